"""One cluster's Kubernetes view, read with the official client in a handful of requests.

Nodes, pods and `FailedCreatePodSandBox` events are listed in large pages (`limit`/`continue`),
the aws-node DaemonSet is read once, ENIConfigs are listed once when custom networking is on,
Karpenter's NodePools once (a 404: no Karpenter) and, when there are some, its EC2NodeClasses
once, so the number of requests depends on the page size, never on the number of nodes.

Answers are read as raw JSON (`_preload_content=False`, then `json.loads`) and only the fields
the audit uses are kept: the client's models would parse every timestamp and nested object of
every pod, which cost most of a large audit's CPU.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import urllib3

from ipaudit.gc_pause import collection_paused
from ipaudit.loopback import is_loopback
from ipaudit.snapshot import (
    EniConfig,
    KubeNode,
    KubePod,
    KubeView,
    NodePool,
    SandboxFailure,
    SubnetSelectorTerm,
)
from ipaudit.words import plural

# The kubernetes client is imported where a cluster is read, not with this module: it was half
# of the Lambda handler's cold import (kubernetes.client loads its ~700 model modules).
if TYPE_CHECKING:
    from kubernetes import client as k8s

_T = TypeVar("_T")
Obj = dict[str, Any]
TokenSource = Callable[[], str]

# The pool manager's settings as ipamd reads them (pkg/ipamd, pkg/awsutils); nothing else from
# the container's env is reported.
_CNI_SETTING = re.compile(
    r"WARM_.*|MINIMUM_.*|MAX_ENI|ENABLE_PREFIX_DELEGATION|AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG"
    r"|ENABLE_POD_ENI|ENI_CONFIG_.*|IP_COOLDOWN_PERIOD|AWS_MANAGE_ENIS_NON_SCHEDULABLE"
    r"|ENABLE_IPv6|ENABLE_IPv4|ENABLE_MULTI_NIC|DISABLE_LEAKED_ENI_CLEANUP"
    r"|ENABLE_SUBNET_DISCOVERY|CLUSTER_NAME"
)
# ipamd parses booleans with Go's strconv.ParseBool.
_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_NOT_FINISHED = "status.phase!=Succeeded,status.phase!=Failed"
_FINISHED = {"Succeeded", "Failed"}
# A page of 5000 realistic pods is ~40 MB of JSON: few requests, bounded memory.
PAGE_SIZE = 5000
_GONE = 410  # the continue token expired (etcd compacted past the list's resourceVersion)
SANDBOX_FAILED = "FailedCreatePodSandBox"
# What the VPC CNI's plugin answers kubelet when ipamd has no address for the pod
# (cmd/routed-eni-cni-plugin: "add cmd: failed to assign an IP address to container").
NO_ADDRESS = re.compile(r"failed to assign an IP address", re.IGNORECASE)
_OS_LABEL = "kubernetes.io/os"
_COMPUTE_TYPE_LABEL = "eks.amazonaws.com/compute-type"
_NODE_POOL_LABEL = "karpenter.sh/nodepool"
_INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"
_ZONE_LABEL = "topology.kubernetes.io/zone"
_FAMILY_LABEL = "karpenter.k8s.aws/instance-family"
_SIZE_LABEL = "karpenter.k8s.aws/instance-size"
KARPENTER_GROUP, KARPENTER_VERSION = "karpenter.sh", "v1"
NODE_CLASS_GROUP, NODE_CLASS_VERSION = "karpenter.k8s.aws", "v1"
_FORBIDDEN = 403


class KubeError(Exception):
    """The cluster's Kubernetes API could not be read; the message is one line for coverage."""


def collect_kube(
    endpoint: str,
    token: str | TokenSource,
    ca_data: str | None,
    *,
    page_size: int = PAGE_SIZE,
    timeout: float = 10.0,
) -> KubeView:
    """Nodes, running pods, aws-node's CNI settings and (with custom networking) ENIConfigs.

    `token` is a bearer token, or a source the client asks before every request (one that
    renews the EKS token before EKS stops accepting it: a large cluster's listing can outlast
    it). `ca_data` is the cluster's certificate authority as DescribeCluster returns it (base64
    of PEM) or PEM text. `timeout` bounds connecting and each read, in seconds.
    """
    from kubernetes import client as k8s
    from kubernetes.client.exceptions import ApiException

    endpoint = endpoint.rstrip("/")
    _refuse_plain_http(endpoint)
    calls = 0

    def call(
        what: str, request: Callable[..., Any], *, optional: bool = False, **params: Any
    ) -> Obj | None:
        """One HTTP request (the client does not retry), its JSON; None when the object is
        absent. A 410 Gone is raised as is: only a listing knows what to do with it, and so is
        a 403 on an `optional` read (one the audit can do without)."""
        nonlocal calls
        calls += 1
        try:
            response = request(
                **params, _request_timeout=(timeout, timeout), _preload_content=False
            )
            try:
                body = json.loads(response.data)
            finally:
                response.release_conn()
        except Exception as error:
            if isinstance(error, ApiException) and error.status == 404:
                return None
            if optional and isinstance(error, ApiException) and error.status == _FORBIDDEN:
                raise
            if (
                isinstance(error, ApiException)
                and error.status == _GONE
                and params.get("_continue")
            ):
                raise
            line = _failure_line(endpoint, what, error)
            if line is None:
                raise
            raise KubeError(line) from None
        if not isinstance(body, dict):
            raise KubeError(f"Kubernetes API at {endpoint} sent an unreadable answer {what}")
        return body

    with _api_client(endpoint, token, ca_data) as api:
        core = k8s.CoreV1Api(api)
        nodes = _list(endpoint, call, "listing nodes", core.list_node, page_size, _node)
        odd_pods: set[str] = set()
        pods = _list(
            endpoint,
            call,
            "listing pods",
            core.list_pod_for_all_namespaces,
            page_size,
            lambda item: _running_pod(item, odd_pods),
            field_selector=_NOT_FINISHED,
        )
        sandbox_failures = _list(
            endpoint,
            call,
            "listing events",
            core.list_event_for_all_namespaces,
            page_size,
            _sandbox_failure,
            field_selector=f"reason={SANDBOX_FAILED}",
        )
        aws_node, image = _aws_node_container(call, k8s.AppsV1Api(api))
        cni_env = aws_node or {}
        eni_configs: list[EniConfig] = []
        if cni_env.get("AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG", "") in _TRUE:
            answer = call(
                "listing ENIConfigs",
                k8s.CustomObjectsApi(api).list_cluster_custom_object,
                group="crd.k8s.amazonaws.com",
                version="v1alpha1",
                plural="eniconfigs",
            )
            eni_configs = [_eni_config(item) for item in (answer or {}).get("items") or []]
        karpenter, node_pools, karpenter_error = _karpenter(call, k8s.CustomObjectsApi(api))
    return KubeView(
        nodes=tuple(nodes),
        pods=tuple(pods),
        cni_env=cni_env,
        eni_configs=tuple(eni_configs),
        api_calls=calls,
        aws_node=aws_node is not None,
        sandbox_failures=tuple(sandbox_failures),
        aws_node_image=image,
        karpenter=karpenter,
        node_pools=tuple(node_pools),
        karpenter_error=karpenter_error,
        read_notes=_odd_pods_note(odd_pods),
    )


def _karpenter(
    call: Callable[..., Obj | None], custom: k8s.CustomObjectsApi
) -> tuple[bool, list[NodePool], str | None]:
    """Karpenter's NodePools with their EC2NodeClasses' subnet selectors.

    A 404 for the NodePool list means the CRD is not installed: no Karpenter, not an error.
    A 403 (the access entry's policy may not cover CRDs) costs only the ceilings of its
    NodePools, said in the coverage notes, never the cluster's pods.
    """
    from kubernetes.client.exceptions import ApiException

    try:
        pools = call(
            "listing karpenter.sh NodePools",
            custom.list_cluster_custom_object,
            optional=True,
            group=KARPENTER_GROUP,
            version=KARPENTER_VERSION,
            plural="nodepools",
        )
        if pools is None:
            return False, [], None
        items = pools.get("items") or []
        classes = (
            call(
                "listing karpenter.k8s.aws EC2NodeClasses",
                custom.list_cluster_custom_object,
                optional=True,
                group=NODE_CLASS_GROUP,
                version=NODE_CLASS_VERSION,
                plural="ec2nodeclasses",
            )
            if items
            else None
        )
    except ApiException as error:
        return (
            True,
            [],
            (
                f"Kubernetes API refused to read Karpenter's NodePools or EC2NodeClasses "
                f"({error.status} {error.reason}): their scale ceilings are not counted"
            ),
        )
    selectors = {
        (item.get("metadata") or {}).get("name"): _subnet_selector(item)
        for item in (classes or {}).get("items") or []
    }
    return True, [_node_pool(item, selectors) for item in items], None


def _node_pool(item: Obj, selectors: dict[str | None, tuple[SubnetSelectorTerm, ...]]) -> NodePool:
    spec = item.get("spec") or {}
    template = (spec.get("template") or {}).get("spec") or {}
    node_class = str((template.get("nodeClassRef") or {}).get("name") or "")
    wanted: dict[str, set[str]] = {}
    for requirement in template.get("requirements") or []:
        if requirement.get("operator") == "In":
            key = str(requirement.get("key") or "")
            wanted.setdefault(key, set()).update(str(v) for v in requirement.get("values") or [])
    return NodePool(
        name=str((item.get("metadata") or {}).get("name") or ""),
        node_class=node_class,
        limits={str(k): str(v) for k, v in (spec.get("limits") or {}).items()},
        instance_types=tuple(sorted(wanted.get(_INSTANCE_TYPE_LABEL, ()))),
        subnet_selector=selectors.get(node_class, ()),
        node_class_found=node_class in selectors,
        zones=tuple(sorted(wanted.get(_ZONE_LABEL, ()))),
        families=tuple(sorted(wanted.get(_FAMILY_LABEL, ()))),
        sizes=tuple(sorted(wanted.get(_SIZE_LABEL, ()))),
    )


def _subnet_selector(node_class: Obj) -> tuple[SubnetSelectorTerm, ...]:
    terms = (node_class.get("spec") or {}).get("subnetSelectorTerms") or []
    return tuple(
        SubnetSelectorTerm(
            tags={str(k): str(v) for k, v in (term.get("tags") or {}).items()},
            subnet_id=str(term.get("id") or ""),
        )
        for term in terms
        if isinstance(term, dict)
    )


def _refuse_plain_http(endpoint: str) -> None:
    url = urlsplit(endpoint)
    if url.scheme == "https" or (url.scheme == "http" and is_loopback(url.hostname)):
        return
    # The bearer token is a credential: it only travels over TLS, or stays on this machine.
    raise KubeError(f"Kubernetes API endpoint {endpoint} is not https (http only for loopback)")


@contextmanager
def _api_client(
    endpoint: str, token: str | TokenSource, ca_data: str | None
) -> Iterator[k8s.ApiClient]:
    from kubernetes import client as k8s

    configuration = k8s.Configuration()
    configuration.host = endpoint
    configuration.api_key_prefix = {"BearerToken": "Bearer"}
    if isinstance(token, str):
        configuration.api_key = {"BearerToken": token}
    else:
        source = token

        def renew(config: k8s.Configuration) -> None:
            # The client calls this before every request: the source decides when to renew.
            config.api_key = {"BearerToken": source()}

        # The client only asks the hook when a key is already there.
        renew(configuration)
        configuration.refresh_api_key_hook = renew
    # One failed request is reported, not retried: the audit carries on without this cluster.
    configuration.retries = False
    with tempfile.NamedTemporaryFile("wb", suffix=".pem") as ca_file:
        if ca_data:
            ca_file.write(_pem(ca_data))
            ca_file.flush()
            configuration.ssl_ca_cert = ca_file.name
        with k8s.ApiClient(configuration) as api:
            yield api


def _pem(ca_data: str) -> bytes:
    if ca_data.lstrip().startswith("-----BEGIN"):
        return ca_data.encode()
    try:
        return base64.b64decode(ca_data, validate=True)
    except binascii.Error:
        raise KubeError("the cluster's certificate authority data is not base64 PEM") from None


def _list(
    endpoint: str,
    call: Callable[..., Obj | None],
    what: str,
    request: Callable[..., Any],
    page_size: int,
    keep: Callable[[Obj], _T | None],
    **params: Any,
) -> list[_T]:
    """Every item of a paged list, as `keep` reads it (None: left out).

    A continue token the server no longer honours (410 Gone: etcd compacted past the list's
    version) restarts the listing once from the start, as kubectl's informers do, rather than
    losing the cluster; a second 410 in one listing is a failure.
    """
    from kubernetes.client.exceptions import ApiException

    for attempt in (1, 2):
        try:
            with collection_paused():  # pages of thousands of objects, none in a cycle
                return [
                    kept
                    for page in _pages(call, what, request, page_size, **params)
                    for kept in map(keep, page.get("items") or [])
                    if kept is not None
                ]
        except ApiException as error:
            if attempt == 2:
                raise KubeError(
                    f"Kubernetes API at {endpoint} answered {error.status} {error.reason} "
                    f"twice {what}: "
                    "its continue tokens expire faster than a page is read"
                ) from None
    raise AssertionError("unreachable")


def _pages(
    call: Callable[..., Obj | None],
    what: str,
    request: Callable[..., Any],
    page_size: int,
    **params: Any,
) -> Iterator[Obj]:
    token: str | None = None
    while True:
        page = call(what, request, limit=page_size, _continue=token, **params)
        if page is None:
            raise KubeError(f"Kubernetes API has no such list ({what})")
        yield page
        token = (page.get("metadata") or {}).get("continue")
        if not token:
            return


def _node(node: Obj) -> KubeNode:
    spec, status = node.get("spec") or {}, node.get("status") or {}
    provider_id = spec.get("providerID") or ""
    # aws:///<az>/<instance id>
    instance_id = provider_id.rsplit("/", 1)[-1] if provider_id.startswith("aws://") else ""
    max_pods = (status.get("capacity") or {}).get("pods")
    metadata = node.get("metadata") or {}
    if not metadata.get("name"):
        # Pods name their node; a nameless node cannot be matched to its pods or instance.
        raise KubeError("the node list holds a node without metadata.name")
    labels = metadata.get("labels") or {}
    return KubeNode(
        name=metadata["name"],
        instance_id=instance_id if instance_id.startswith("i-") else None,
        max_pods=int(max_pods) if max_pods and str(max_pods).isdigit() else None,
        unschedulable=bool(spec.get("unschedulable")),
        os=labels.get(_OS_LABEL) or None,
        fargate=labels.get(_COMPUTE_TYPE_LABEL) == "fargate",
        node_pool=labels.get(_NODE_POOL_LABEL) or None,
    )


def _running_pod(item: Obj, odd: set[str] | None = None) -> KubePod | None:
    """The pod if it runs. One whose metadata, spec or status is null (the API always sends
    them) is left out and named in `odd`: where it runs or whether it has an address is
    unknown, and a guess would change the counts silently."""
    missing = [
        part for part in ("metadata", "spec", "status") if not isinstance(item.get(part), dict)
    ]
    if missing:
        if odd is not None:
            odd.add(f"{_pod_name(item)} ({', '.join(missing)} null)")
        return None
    pod = _pod(item)
    # The field selector is only a saving; never trust it alone.
    return None if pod.phase in _FINISHED else pod


def _pod_name(item: Obj) -> str:
    metadata = item.get("metadata")
    if not isinstance(metadata, dict) or not metadata.get("name"):
        return "a pod without a name"
    return f"{metadata.get('namespace') or 'default'}/{metadata['name']}"


_NAMED = 5  # odd pods named in the note; the rest are counted


def _odd_pods_note(odd: set[str]) -> tuple[str, ...]:
    if not odd:
        return ()
    named = sorted(odd)
    more = f" and {len(named) - _NAMED} more" if len(named) > _NAMED else ""
    return (
        f"{plural(len(named), 'pod')} left out of the pod counts, their metadata, spec or status "
        f"null: {', '.join(named[:_NAMED])}{more}",
    )


def _pod(pod: Obj) -> KubePod:
    metadata, spec, status = (pod.get(k) or {} for k in ("metadata", "spec", "status"))
    return KubePod(
        namespace=metadata.get("namespace") or "",
        name=metadata.get("name") or "",
        node_name=spec.get("nodeName"),
        phase=status.get("phase") or "Unknown",
        host_network=bool(spec.get("hostNetwork")),
        pod_ip=status.get("podIP"),
    )


def _sandbox_failure(event: Obj) -> SandboxFailure | None:
    """A pod's sandbox failing because no address was left; other sandbox failures are not
    this audit's business."""
    message = event.get("message") or ""
    subject = event.get("involvedObject") or {}
    if (subject.get("kind") or "Pod") != "Pod" or not NO_ADDRESS.search(message):
        return None
    metadata = event.get("metadata") or {}
    when = (
        event.get("lastTimestamp")
        or event.get("eventTime")
        or event.get("firstTimestamp")
        or metadata.get("creationTimestamp")
        or ""
    )
    return SandboxFailure(
        namespace=subject.get("namespace") or metadata.get("namespace") or "",
        pod=subject.get("name") or "",
        node_name=(event.get("source") or {}).get("host") or event.get("reportingInstance") or None,
        last_seen=str(when),
        count=int(event.get("count") or 1),
        message=_first_line(message),
    )


def _aws_node_container(
    call: Callable[..., Any], apps: k8s.AppsV1Api
) -> tuple[dict[str, str] | None, str | None]:
    """aws-node's settings as set and its image, or None when there is no aws-node (another
    CNI, Auto Mode)."""
    daemonset = call(
        "reading kube-system/aws-node",
        apps.read_namespaced_daemon_set,
        name="aws-node",
        namespace="kube-system",
    )
    if daemonset is None:
        return None, None
    pod_spec = ((daemonset.get("spec") or {}).get("template") or {}).get("spec") or {}
    containers = pod_spec.get("containers") or []
    container = next((c for c in containers if c.get("name") == "aws-node"), None)
    if container is None:
        # Reading this as "aws-node with its defaults" would be a guess, not a reading.
        raise KubeError("kube-system/aws-node has no aws-node container: its settings are unknown")
    env = container.get("env") or []
    # Only literal values are settings "as set"; valueFrom entries are resolved per node.
    settings = {
        e["name"]: e["value"]
        for e in env
        if isinstance(e.get("value"), str) and _CNI_SETTING.fullmatch(e.get("name") or "")
    }
    image = container.get("image")
    return settings, image if isinstance(image, str) else None


def _eni_config(item: dict[str, Any]) -> EniConfig:
    spec = item.get("spec") or {}
    return EniConfig(
        name=item["metadata"]["name"],
        subnet_id=spec.get("subnet", ""),
        security_groups=tuple(spec.get("securityGroups") or ()),
    )


def _failure_line(endpoint: str, what: str, error: BaseException) -> str | None:
    """One line for a failed request, from the first cause it recognises in the chain.

    The client wraps transport errors in its own (a TLS failure even surfaces as an
    AttributeError raised while it handles one), so the chain is walked, not the outer type.
    """
    from kubernetes.client.exceptions import ApiException

    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ApiException) and cause.status:
            if cause.status in (401, 403):
                return f"Kubernetes API refused the token ({cause.status} {cause.reason})"
            return f"Kubernetes API at {endpoint} answered {cause.status} {cause.reason} {what}"
        if isinstance(cause, urllib3.exceptions.MaxRetryError) and cause.reason is not None:
            cause = cause.reason
        if isinstance(cause, urllib3.exceptions.SSLError):
            return f"Kubernetes API at {endpoint} failed TLS verification: {_first_line(cause)}"
        if isinstance(cause, urllib3.exceptions.NewConnectionError):
            refused = "refused" in str(cause).lower()
            detail = "connection refused" if refused else "cannot connect"
            return f"Kubernetes API unreachable at {endpoint}: {detail}"
        if isinstance(cause, urllib3.exceptions.TimeoutError):
            return f"Kubernetes API unreachable at {endpoint}: timed out"
        if isinstance(cause, urllib3.exceptions.HTTPError):
            return f"Kubernetes API unreachable at {endpoint}: {type(cause).__name__}"
        cause = cause.__cause__ or cause.__context__
    if isinstance(error, ValueError):  # an answer that is not JSON
        return (
            f"Kubernetes API at {endpoint} sent an unreadable answer {what}: {_first_line(error)}"
        )
    return None


def _first_line(value: object) -> str:
    text = str(value).strip()
    return text.splitlines()[0] if text else "no detail"
