"""Reading one cluster's Kubernetes API with an EKS token, as the audit does for every cluster."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from kubernetes.client import ApiClient

from ipaudit.kube.kube_view import KubeError, collect_kube
from ipaudit.kube.token import EksTokens, eks_token
from ipaudit.snapshot import KubeNode, KubePod
from ipaudit_sim.kube_api import (
    KubeApiServer,
    aws_node_daemonset,
    eni_config_object,
    node_object,
    pod_object,
    sandbox_failure_event,
    workload_pod,
)

AZ = "eu-west-1a"


def populate(kube: KubeApiServer, nodes: int, pods_per_node: int = 2) -> None:
    kube.nodes = [node_object(f"node-{n}", f"i-{n:017x}", AZ, 29) for n in range(nodes)]
    kube.pods = [
        pod_object("default", f"app-{n}-{p}", f"node-{n}", f"10.0.{n}.{p + 10}")
        for n in range(nodes)
        for p in range(pods_per_node)
    ]
    kube.daemonsets = [aws_node_daemonset({"WARM_ENI_TARGET": "1"}, nodes=nodes)]


def test_nodes_carry_their_instance_id_max_pods_and_cordon(
    aws: boto3.Session, kube: KubeApiServer
) -> None:
    kube.nodes = [
        node_object("ip-10-0-0-10.internal", "i-0123456789abcdef0", AZ, 29),
        node_object("ip-10-0-0-11.internal", "i-0fedcba9876543210", "eu-west-1b", 234),
    ]
    kube.nodes[1]["spec"]["unschedulable"] = True

    view = collect_kube(kube.url, eks_token(aws, "prod"), None)

    assert [(n.name, n.instance_id, n.max_pods, n.unschedulable) for n in view.nodes] == [
        ("ip-10-0-0-10.internal", "i-0123456789abcdef0", 29, False),
        ("ip-10-0-0-11.internal", "i-0fedcba9876543210", 234, True),
    ]


def test_only_running_pods_outside_the_host_network_hold_vpc_addresses(
    aws: boto3.Session, kube: KubeApiServer
) -> None:
    kube.nodes = [node_object("node-0", "i-00000000000000000", AZ, 29, internal_ip="10.0.0.10")]
    kube.pods = [
        pod_object("default", "web-1", "node-0", "10.0.0.21"),
        pod_object("default", "web-2", "node-0", "10.0.0.22"),
        pod_object("kube-system", "aws-node-x1", "node-0", "10.0.0.10", host_network=True),
        pod_object("batch", "report-done", "node-0", "10.0.0.23", phase="Succeeded"),
        pod_object("batch", "report-crashed", "node-0", "10.0.0.24", phase="Failed"),
    ]

    view = collect_kube(kube.url, eks_token(aws, "prod"), None)

    assert {p.name for p in view.pods} == {"web-1", "web-2", "aws-node-x1"}
    holding = {p.name for p in view.pods if not p.host_network}
    assert holding == {"web-1", "web-2"}
    assert {p.pod_ip for p in view.pods if p.name in holding} == {"10.0.0.21", "10.0.0.22"}


def test_cni_settings_are_the_aws_node_containers_literal_settings(
    aws: boto3.Session, kube: KubeApiServer
) -> None:
    kube.daemonsets = [
        aws_node_daemonset(
            {
                "WARM_IP_TARGET": "2",
                "MINIMUM_IP_TARGET": "12",
                "ENABLE_PREFIX_DELEGATION": "false",
                "AWS_VPC_K8S_CNI_LOGLEVEL": "DEBUG",  # not a pool setting
            }
        )
    ]

    view = collect_kube(kube.url, eks_token(aws, "prod"), None)

    # MY_NODE_NAME (a fieldRef) and the log level are left out.
    assert dict(view.cni_env) == {
        "WARM_IP_TARGET": "2",
        "MINIMUM_IP_TARGET": "12",
        "ENABLE_PREFIX_DELEGATION": "false",
    }


def test_a_cluster_without_aws_node_has_no_cni_settings(
    aws: boto3.Session, kube: KubeApiServer
) -> None:
    populate(kube, nodes=1)
    kube.daemonsets = []

    view = collect_kube(kube.url, eks_token(aws, "prod"), None)

    assert dict(view.cni_env) == {} and view.aws_node is False
    assert len(view.nodes) == 1


def test_pods_are_read_in_pages_following_continue(aws: boto3.Session, kube: KubeApiServer) -> None:
    populate(kube, nodes=2, pods_per_node=4)
    kube.pods.append(pod_object("batch", "done", "node-0", None, phase="Succeeded"))

    view = collect_kube(kube.url, eks_token(aws, "prod"), None, page_size=3)

    assert len(view.pods) == 8
    pod_requests = [r for r in kube.requests if r.startswith("/api/v1/pods")]
    assert len(pod_requests) == 3
    assert all("limit=3" in r for r in pod_requests)
    assert all("continue=" in r for r in pod_requests[1:])


def address_failures(nodes: int) -> list[dict[str, Any]]:
    """Every node has had a pod that could not get an address."""
    return [
        sandbox_failure_event("default", f"app-{n}-x", f"node-{n}", "2026-01-05T09:00:00Z")
        for n in range(nodes)
    ]


def test_requests_per_cluster_stay_constant_as_nodes_grow(
    aws: boto3.Session, kube: KubeApiServer
) -> None:
    token = eks_token(aws, "prod")
    populate(kube, nodes=3)
    kube.events = address_failures(3)
    small = collect_kube(kube.url, token, None)
    populate(kube, nodes=30)
    kube.events = address_failures(30)
    large = collect_kube(kube.url, token, None)

    assert (len(small.nodes), len(large.nodes)) == (3, 30)
    assert (len(small.sandbox_failures), len(large.sandbox_failures)) == (3, 30)
    # nodes, pods, FailedCreatePodSandBox events, the aws-node DaemonSet, Karpenter's
    # NodePools (404: not installed): one request each.
    assert small.api_calls == large.api_calls == 5
    assert len(kube.requests) == small.api_calls + large.api_calls


@pytest.mark.parametrize("custom_networking", ["true", "false"])
def test_eniconfigs_are_read_only_with_custom_networking(
    aws: boto3.Session, kube: KubeApiServer, custom_networking: str
) -> None:
    populate(kube, nodes=1)
    kube.daemonsets = [
        aws_node_daemonset({"AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG": custom_networking})
    ]
    kube.eni_configs = [eni_config_object(AZ, "subnet-0a1b2c3d", ["sg-0123"])]

    view = collect_kube(kube.url, eks_token(aws, "prod"), None)

    asked = any("eniconfigs" in r for r in kube.requests)
    if custom_networking == "true":
        assert asked
        assert [(c.name, c.subnet_id, c.security_groups) for c in view.eni_configs] == [
            (AZ, "subnet-0a1b2c3d", ("sg-0123",))
        ]
    else:
        assert not asked
        assert view.eni_configs == ()


def token_signed_ago(aws: boto3.Session, monkeypatch: pytest.MonkeyPatch, minutes: float) -> str:
    then = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=minutes)
    with monkeypatch.context() as patch:  # botocore's clock is naive UTC
        patch.setattr("botocore.auth.get_current_datetime", lambda: then)
        return eks_token(aws, "prod")


@pytest.mark.parametrize("minutes", [2, 14])
def test_a_token_is_accepted_for_15_minutes_after_signing_as_eks_does(
    aws: boto3.Session, kube: KubeApiServer, monkeypatch: pytest.MonkeyPatch, minutes: int
) -> None:
    # `aws eks get-token` signs for 60 s and tells kubectl to reuse the token for 14 minutes.
    populate(kube, nodes=1)

    view = collect_kube(kube.url, token_signed_ago(aws, monkeypatch, minutes), None)

    assert len(view.nodes) == 1
    assert kube.auth_errors == []


@pytest.mark.parametrize(
    ("case", "why"),
    [
        ("other cluster", "signature does not match"),
        ("expired", "expired"),
        ("not an EKS token", "does not start with k8s-aws-v1."),
        ("tampered", "signature does not match"),
    ],
)
def test_a_token_eks_would_refuse_is_refused(
    aws: boto3.Session,
    kube: KubeApiServer,
    monkeypatch: pytest.MonkeyPatch,
    case: str,
    why: str,
) -> None:
    populate(kube, nodes=1)
    token = {
        "other cluster": lambda: eks_token(aws, "staging"),
        "expired": lambda: token_signed_ago(aws, monkeypatch, 16),
        "not an EKS token": lambda: "eyJhbGciOiJSUzI1NiJ9.e30.c2ln",
        "tampered": lambda: eks_token(aws, "prod")[:-6] + "AAAAAA",
    }[case]()

    with pytest.raises(KubeError) as refused:
        collect_kube(kube.url, token, None)

    assert str(refused.value) == "Kubernetes API refused the token (401 Unauthorized)"
    assert kube.auth_errors and why in kube.auth_errors[-1]


def test_an_allowed_role_from_another_account_is_accepted(
    aws: boto3.Session, moto_server: object
) -> None:
    role = "arn:aws:iam::210987654321:role/IpAuditReadOnly"
    credentials = aws.client("sts").assume_role(RoleArn=role, RoleSessionName="ipaudit")[
        "Credentials"
    ]
    member = boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=aws.region_name,
    )
    with (
        KubeApiServer("prod", allowed_arns=[role]) as allowed,
        KubeApiServer("prod", allowed_arns=["arn:aws:iam::210987654321:role/SomeoneElse"]) as other,
    ):
        populate(allowed, nodes=1)
        populate(other, nodes=1)
        token = eks_token(member, "prod")

        assert len(collect_kube(allowed.url, token, None).nodes) == 1
        with pytest.raises(KubeError, match="refused the token"):
            collect_kube(other.url, token, None)
        assert other.auth_errors == [
            "arn:aws:sts::210987654321:assumed-role/IpAuditReadOnly/ipaudit"
            " is not allowed on cluster prod"
        ]


def test_a_failing_api_is_one_line_naming_what_failed(
    aws: boto3.Session, kube: KubeApiServer
) -> None:
    populate(kube, nodes=1)
    kube.fail_with = 500
    token = eks_token(aws, "prod")

    with pytest.raises(KubeError) as failed:
        collect_kube(kube.url, token, None, timeout=2)

    assert str(failed.value) == (
        f"Kubernetes API at {kube.url} answered 500 Internal Server Error listing nodes"
    )
    assert len(kube.requests) == 1  # not retried


def test_a_stopped_api_is_unreachable(aws: boto3.Session, kube: KubeApiServer) -> None:
    token = eks_token(aws, "prod")
    kube.stop()

    with pytest.raises(KubeError) as failed:
        collect_kube(kube.url, token, None, timeout=2)

    assert str(failed.value) == f"Kubernetes API unreachable at {kube.url}: connection refused"
    assert token not in str(failed.value)


def test_the_token_never_travels_over_plain_http_beyond_this_machine(
    aws: boto3.Session,
) -> None:
    with pytest.raises(KubeError, match="is not https"):
        collect_kube("http://10.20.30.40", eks_token(aws, "prod"), None)


def test_an_endpoint_that_does_not_speak_tls_fails_tls_verification(
    aws: boto3.Session, kube: KubeApiServer
) -> None:
    endpoint = kube.url.replace("http://", "https://")

    with pytest.raises(KubeError) as failed:
        collect_kube(endpoint, eks_token(aws, "prod"), None, timeout=2)

    assert str(failed.value).startswith(f"Kubernetes API at {endpoint} failed TLS verification: ")
    assert "\n" not in str(failed.value)


def test_an_api_that_never_answers_times_out(aws: boto3.Session) -> None:
    # The kernel accepts the connection; nobody ever reads the request.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        endpoint = f"http://127.0.0.1:{silent.getsockname()[1]}"

        with pytest.raises(KubeError) as failed:
            collect_kube(endpoint, eks_token(aws, "prod"), None, timeout=0.2)

    assert str(failed.value) == f"Kubernetes API unreachable at {endpoint}: timed out"


class _Answer:
    def __init__(self, body: Any) -> None:
        self.data = json.dumps(body)


def read_with_the_clients_models(kube: KubeApiServer) -> tuple[list[KubeNode], list[KubePod]]:
    """What the collector read before it kept to raw JSON: the client's models, field by field."""
    client = ApiClient()
    nodes = client.deserialize(_Answer({"items": kube.nodes}), "V1NodeList").items
    pods = client.deserialize(_Answer({"items": kube.pods}), "V1PodList").items
    return (
        [
            KubeNode(
                name=n.metadata.name,
                instance_id=n.spec.provider_id.rsplit("/", 1)[-1],
                max_pods=int(n.status.capacity["pods"]),
                unschedulable=bool(n.spec.unschedulable),
                os=n.metadata.labels["kubernetes.io/os"],
            )
            for n in nodes
        ],
        [
            KubePod(
                namespace=p.metadata.namespace,
                name=p.metadata.name,
                node_name=p.spec.node_name,
                phase=p.status.phase or "Unknown",
                host_network=bool(p.spec.host_network),
                pod_ip=p.status.pod_ip,
            )
            for p in pods
            if p.status.phase not in ("Succeeded", "Failed")
        ],
    )


def test_raw_json_reads_realistic_pods_exactly_as_the_clients_models_did(
    aws: boto3.Session, kube: KubeApiServer
) -> None:
    kube.nodes = [node_object(f"node-{n}", f"i-{n:017x}", AZ, 58) for n in range(3)]
    kube.nodes[2]["spec"]["unschedulable"] = True
    kube.pods = [
        workload_pod("payments", f"checkout-7d9f8c6b5d-{n}{p}", f"node-{n}", f"10.0.{n}.{p + 10}")
        for n in range(3)
        for p in range(5)
    ]
    kube.pods += [
        workload_pod("kube-system", "kube-proxy-x1", "node-0", "10.0.0.10", host_network=True),
        workload_pod("batch", "report-7d9f8c6b5d-done", "node-1", "10.0.1.99", phase="Succeeded"),
        workload_pod("payments", "checkout-7d9f8c6b5d-pending", None, None, phase="Pending"),
    ]

    view = collect_kube(kube.url, eks_token(aws, "prod"), None)

    nodes, pods = read_with_the_clients_models(kube)
    assert list(view.nodes) == nodes
    assert sorted(view.pods, key=lambda p: (p.namespace, p.name)) == sorted(
        pods, key=lambda p: (p.namespace, p.name)
    )
    assert len(view.pods) == 17


class FakeClock:
    """One clock for botocore's signing, the token's renewal and the server's check."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).timestamp()

    def __call__(self) -> float:
        return self.now

    def naive_utc(self) -> datetime:
        return datetime.fromtimestamp(self.now, UTC).replace(tzinfo=None)


@pytest.fixture
def clock(kube: KubeApiServer, monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    clock = FakeClock()
    monkeypatch.setattr("botocore.auth.get_current_datetime", clock.naive_utc)
    kube.clock = clock
    return clock


def seven_minutes_a_request(kube: KubeApiServer, clock: FakeClock) -> None:
    def slow(_: str) -> None:
        clock.now += 7 * 60

    kube.on_request = slow


def test_a_listing_that_outlasts_a_token_goes_on_with_a_fresh_one(
    aws: boto3.Session, kube: KubeApiServer, clock: FakeClock
) -> None:
    populate(kube, nodes=4, pods_per_node=2)
    seven_minutes_a_request(kube, clock)
    tokens = EksTokens(lambda: eks_token(aws, "prod"), clock=clock)

    view = collect_kube(kube.url, tokens, None, page_size=3)

    # nodes x2, pods x3, events, aws-node, NodePools: 56 minutes, four tokens, none refused
    assert (len(view.nodes), len(view.pods), view.api_calls) == (4, 8, 8)
    assert tokens.minted == 4
    assert kube.auth_errors == []


def test_the_same_listing_with_one_token_is_refused_once_eks_stops_accepting_it(
    aws: boto3.Session, kube: KubeApiServer, clock: FakeClock
) -> None:
    populate(kube, nodes=4, pods_per_node=2)
    seven_minutes_a_request(kube, clock)

    with pytest.raises(KubeError, match="refused the token"):
        collect_kube(kube.url, eks_token(aws, "prod"), None, page_size=3)

    assert kube.auth_errors == ["token has expired"]


def test_an_expired_continue_token_restarts_that_listing_once(
    aws: boto3.Session, kube: KubeApiServer
) -> None:
    populate(kube, nodes=2, pods_per_node=4)
    compacted: list[str] = []

    def compact_once(target: str) -> None:
        if target.startswith("/api/v1/pods") and "continue=" in target and not compacted:
            compacted.append(target)
            kube.expire_continue_tokens()

    kube.on_request = compact_once

    view = collect_kube(kube.url, eks_token(aws, "prod"), None, page_size=3)

    assert sorted(p.name for p in view.pods) == sorted(p["metadata"]["name"] for p in kube.pods)
    pod_requests = [r for r in kube.requests if r.startswith("/api/v1/pods")]
    # page 1, page 2 (410 Gone), then the whole list again: pages 1, 2, 3
    assert len(pod_requests) == 5
    assert "continue=" not in pod_requests[2]


def test_continue_tokens_that_always_expire_fail_the_cluster_in_one_line(
    aws: boto3.Session, kube: KubeApiServer
) -> None:
    populate(kube, nodes=2, pods_per_node=4)

    def compact_always(target: str) -> None:
        if "continue=" in target:
            kube.expire_continue_tokens()

    kube.on_request = compact_always

    with pytest.raises(KubeError) as failed:
        collect_kube(kube.url, eks_token(aws, "prod"), None, page_size=3)

    assert str(failed.value) == (
        f"Kubernetes API at {kube.url} answered 410 Gone twice listing pods: "
        "its continue tokens expire faster than a page is read"
    )


def test_pods_whose_sandbox_failed_for_want_of_an_address_are_read_from_events(
    aws: boto3.Session, kube: KubeApiServer
) -> None:
    populate(kube, nodes=1)
    kube.nodes[0]["metadata"]["labels"]["kubernetes.io/os"] = "windows"
    kube.events = [
        sandbox_failure_event("shop", "cart-1", "node-0", "2026-01-05T09:10:00Z", count=7),
        # A sandbox failure for another reason is not this audit's business.
        sandbox_failure_event(
            "shop", "cart-2", "node-0", "2026-01-05T09:10:00Z", message="failed to pull image"
        ),
    ]

    view = collect_kube(kube.url, eks_token(aws, "prod"), None)

    [failure] = view.sandbox_failures
    assert (failure.namespace, failure.pod, failure.node_name, failure.count) == (
        "shop",
        "cart-1",
        "node-0",
        7,
    )
    assert failure.last_seen == "2026-01-05T09:10:00Z"
    assert "failed to assign an IP address" in failure.message
    [request] = [r for r in kube.requests if "/events" in r]
    assert request.startswith("/api/v1/events?fieldSelector=reason%3DFailedCreatePodSandBox")
    assert view.nodes[0].os == "windows"
