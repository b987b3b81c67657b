"""A local Kubernetes API server for one EKS cluster, speaking the real wire format.

`ipaudit demo`, the tests and `kubectl` point at it. It serves the read paths ipaudit and
`kubectl get` use (nodes, pods, events, DaemonSets, ENIConfigs, Karpenter's NodePools and
EC2NodeClasses when `karpenter` is set, /version, discovery) with
`limit`/`continue` paging, `fieldSelector`, `labelSelector`, Table output and `Status` errors, and
it authenticates bearer tokens the way EKS does: it checks the presigned `sts:GetCallerIdentity`
URL inside the token and asks STS (the moto server) who signed it. Discovery and Table rendering
live in kube_discovery.py and kube_tables.py, label selectors in kube_labels.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
import secrets
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ipaudit.kube.token import CLUSTER_ID_HEADER, TOKEN_PREFIX
from ipaudit.loopback import is_loopback
from ipaudit_sim.aws import FAKE_CREDENTIALS
from ipaudit_sim.kube_discovery import Served, discovery_document
from ipaudit_sim.kube_labels import LabelSelectorError, label_filter
from ipaudit_sim.kube_tables import as_table, wants_table

Obj = dict[str, Any]

_MAX_TOKEN_LIFETIME = 900  # EKS refuses presigned URLs valid for longer than 15 minutes
# ...and accepts a token for 15 minutes after it was signed, whatever X-Amz-Expires says
# (aws-iam-authenticator pkg/token).
_TOKEN_WINDOW = 900
_STS_TIMEOUT = 5.0
_CREATED = "2026-01-05T09:00:00Z"
# The control plane's version (DescribeCluster's `version`, /version) and its kubelets'.
KUBERNETES_VERSION = "1.31"
KUBELET_VERSION = f"v{KUBERNETES_VERSION}.4-eks-aeac579"
_ROOT_VOLUME_KI = 20959212  # the EKS AMI's 20 GiB root volume, as kubelet reports it
# kubelet's eviction threshold on the EKS AMI (memory.available<100Mi).
_EVICTION_HARD_MI = 100
_ids = itertools.count(1001)


def _next_version() -> str:
    return str(next(_ids))


def _metadata(name: str, namespace: str | None = None, **extra: Any) -> Obj:
    meta: Obj = {
        "name": name,
        "uid": f"00000000-0000-4000-8000-{next(_ids):012d}",
        "resourceVersion": _next_version(),
        "creationTimestamp": _CREATED,
    }
    if namespace is not None:
        meta["namespace"] = namespace
    meta.update(extra)
    return meta


def node_object(
    name: str,
    instance_id: str,
    az: str,
    max_pods: int,
    *,
    internal_ip: str = "10.0.0.10",
    unschedulable: bool = False,
    instance_type: str = "m5.large",
    os: str = "linux",
    fargate: bool = False,
    vcpus: int = 2,
    memory_mib: int = 8192,
    node_pool: str | None = None,
) -> Obj:
    """A `v1` Node as an EKS worker's kubelet registers it (a Fargate pod's own node with
    `fargate`: its provider id names no instance; Karpenter's with the `node_pool` that made
    it); `vcpus` and `memory_mib` as DescribeInstanceTypes gives them for its type."""
    labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": os,
        "node.kubernetes.io/instance-type": instance_type,
        "topology.kubernetes.io/zone": az,
    }
    if node_pool is not None:
        labels["karpenter.sh/nodepool"] = node_pool
    spec: Obj = {"providerID": f"aws:///{az}/{instance_id}"}
    if fargate:
        labels["eks.amazonaws.com/compute-type"] = "fargate"
        spec["providerID"] = f"aws:///{az}/{instance_id}/{name}"
    if unschedulable:
        spec["unschedulable"] = True
    capacity, allocatable = node_resources(vcpus, memory_mib, max_pods)
    return {
        "kind": "Node",
        "apiVersion": "v1",
        "metadata": _metadata(name, labels=labels),
        "spec": spec,
        "status": {
            "capacity": capacity,
            "allocatable": allocatable,
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "KubeletReady",
                    "message": "kubelet is posting ready status",
                    "lastHeartbeatTime": _CREATED,
                    "lastTransitionTime": _CREATED,
                }
            ],
            "addresses": [
                {"type": "InternalIP", "address": internal_ip},
                {"type": "Hostname", "address": name},
            ],
            "nodeInfo": {
                "architecture": "amd64",
                "bootID": "5d3c0c9e-0000-4000-8000-000000000000",
                "containerRuntimeVersion": "containerd://1.7.27",
                "kernelVersion": "6.1.128-136.201.amzn2023.x86_64",
                "kubeProxyVersion": KUBELET_VERSION,
                "kubeletVersion": KUBELET_VERSION,
                "machineID": "ec2" + instance_id.removeprefix("i-").ljust(29, "0"),
                "operatingSystem": "linux",
                "osImage": "Amazon Linux 2023.6.20250203",
                "systemUUID": "ec2" + instance_id.removeprefix("i-").ljust(29, "0"),
            },
        },
    }


def node_resources(vcpus: int, memory_mib: int, max_pods: int) -> tuple[Obj, Obj]:
    """A node's `capacity` and `allocatable` as the EKS AMI's kubelet reports them: capacity is
    the instance type's, allocatable keeps back kube-reserved (CPU: 6% of the first core, 1% of
    the second, 0.5% of the next two, 0.25% of the rest; memory: 255 MiB + 11 MiB per pod) and
    the eviction threshold."""
    shares = (60, 10, 5, 5) + (2.5,) * max(0, vcpus - 4)  # millicores kept back, per core
    reserved_cpu = round(sum(shares[:vcpus]))
    reserved_memory = 255 + 11 * max_pods + _EVICTION_HARD_MI
    common = {
        "ephemeral-storage": f"{_ROOT_VOLUME_KI}Ki",
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
    }
    capacity = {
        "cpu": str(vcpus),
        **common,
        "memory": f"{memory_mib * 1024}Ki",
        "pods": str(max_pods),
    }
    allocatable = {
        "cpu": f"{vcpus * 1000 - reserved_cpu}m",
        **common,
        # kubelet also keeps back 10% of the root volume for its image eviction.
        "ephemeral-storage": str(_ROOT_VOLUME_KI * 1024 * 9 // 10),
        "memory": f"{(memory_mib - reserved_memory) * 1024}Ki",
        "pods": str(max_pods),
    }
    return capacity, allocatable


_CONTAINER_STATES: dict[str, Obj] = {
    "Running": {"running": {"startedAt": _CREATED}},
    # Scheduled, but the sandbox (and so its address) is not there yet.
    "Pending": {"waiting": {"reason": "ContainerCreating"}},
    "Succeeded": {
        "terminated": {
            "exitCode": 0,
            "reason": "Completed",
            "startedAt": _CREATED,
            "finishedAt": _CREATED,
        }
    },
    "Failed": {
        "terminated": {
            "exitCode": 1,
            "reason": "Error",
            "startedAt": _CREATED,
            "finishedAt": _CREATED,
        }
    },
}


def pod_object(
    namespace: str,
    name: str,
    node_name: str | None,
    ip: str | None,
    phase: str = "Running",
    host_network: bool = False,
) -> Obj:
    """A `v1` Pod; `ip` is its pod IP (the node's address for a hostNetwork pod)."""
    image = "public.ecr.aws/docker/library/busybox:1.37"
    spec: Obj = {
        "containers": [
            {
                "name": "app",
                "image": image,
                "resources": {},
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File",
                "imagePullPolicy": "IfNotPresent",
            }
        ],
        "restartPolicy": "Always",
        "dnsPolicy": "ClusterFirst",
        "schedulerName": "default-scheduler",
        "serviceAccountName": "default",
        "terminationGracePeriodSeconds": 30,
    }
    if node_name is not None:
        spec["nodeName"] = node_name
    if host_network:  # the real API omits false booleans
        spec["hostNetwork"] = True
    status: Obj = {"phase": phase, "qosClass": "BestEffort"}
    if ip is not None:
        status.update(podIP=ip, podIPs=[{"ip": ip}], startTime=_CREATED)
    # An unscheduled pod has no containers yet; a scheduled Pending one waits for its sandbox.
    state = _CONTAINER_STATES.get(phase) if node_name is not None or phase != "Pending" else None
    if state is not None:  # what kubelet reports once the container ran (kubectl's READY)
        status["containerStatuses"] = [
            {
                "name": "app",
                "image": image,
                "imageID": f"{image.split(':')[0]}@sha256:{'0' * 64}",
                "containerID": f"containerd://{'c' * 64}",
                "ready": phase == "Running",
                "started": phase == "Running",
                "restartCount": 0,
                "state": state,
            }
        ]
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": _metadata(name, namespace, labels={"app": name.rsplit("-", 1)[0]}),
        "spec": spec,
        "status": status,
    }


def workload_pod(
    namespace: str,
    name: str,
    node_name: str | None,
    ip: str | None,
    *,
    phase: str = "Running",
    host_network: bool = False,
) -> Obj:
    """A Pod as a Deployment's ReplicaSet leaves it on a real cluster: two containers with
    probes, env and mounts, owner references, managedFields and full status (~7 KB of JSON)."""
    pod = pod_object(namespace, name, node_name, ip, phase, host_network)
    app = name.rsplit("-", 2)[0]
    started = {"startedAt": _CREATED}

    def container(container_name: str, port: int) -> Obj:
        probe = {
            "httpGet": {"path": "/healthz", "port": port, "scheme": "HTTP"},
            "initialDelaySeconds": 10,
            "timeoutSeconds": 2,
            "periodSeconds": 10,
            "successThreshold": 1,
            "failureThreshold": 3,
        }
        return {
            "name": container_name,
            "image": f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/{app}:1.42.{port % 7}",
            "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
            "env": [
                {"name": "LOG_LEVEL", "value": "info"},
                {"name": "OTEL_EXPORTER_OTLP_ENDPOINT", "value": "http://otel-collector:4317"},
                {
                    "name": "POD_NAME",
                    "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}},
                },
                {
                    "name": "POD_IP",
                    "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "status.podIP"}},
                },
            ],
            "resources": {
                "limits": {"cpu": "500m", "memory": "512Mi"},
                "requests": {"cpu": "250m", "memory": "256Mi"},
            },
            "volumeMounts": [
                {"name": "config", "mountPath": "/etc/app", "readOnly": True},
                {
                    "name": "kube-api-access",
                    "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                    "readOnly": True,
                },
            ],
            "livenessProbe": probe,
            "readinessProbe": {**probe, "initialDelaySeconds": 5},
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File",
            "imagePullPolicy": "IfNotPresent",
            "securityContext": {
                "allowPrivilegeEscalation": False,
                "readOnlyRootFilesystem": True,
                "runAsNonRoot": True,
                "capabilities": {"drop": ["ALL"]},
            },
        }

    containers = [container(app, 8080), container("envoy", 9901)]
    pod["metadata"].update(
        generateName=name.rsplit("-", 1)[0] + "-",
        labels={"app": app, "pod-template-hash": "7d9f8c6b5d", "team": "payments"},
        annotations={
            "kubectl.kubernetes.io/restartedAt": _CREATED,
            "prometheus.io/scrape": "true",
            "prometheus.io/port": "9901",
        },
        ownerReferences=[
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": name.rsplit("-", 1)[0],
                "uid": "6f0c1e9a-0000-4000-8000-000000000001",
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
        managedFields=[
            {
                "manager": "kube-controller-manager",
                "operation": "Update",
                "apiVersion": "v1",
                "time": _CREATED,
                "fieldsType": "FieldsV1",
                "fieldsV1": {
                    "f:metadata": {
                        "f:generateName": {},
                        "f:labels": {".": {}, "f:app": {}, "f:pod-template-hash": {}},
                        "f:ownerReferences": {".": {}, 'k:{"uid":"6f0c1e9a"}': {}},
                    },
                    "f:spec": {
                        "f:containers": {
                            f'k:{{"name":"{c["name"]}"}}': {
                                ".": {},
                                "f:env": {f'k:{{"name":"{e["name"]}"}}': {} for e in c["env"]},
                                "f:image": {},
                                "f:livenessProbe": {".": {}, "f:httpGet": {}},
                                "f:readinessProbe": {".": {}, "f:httpGet": {}},
                                "f:resources": {"f:limits": {}, "f:requests": {}},
                            }
                            for c in containers
                        },
                        "f:volumes": {},
                    },
                },
            },
            {
                "manager": "kubelet",
                "operation": "Update",
                "apiVersion": "v1",
                "time": _CREATED,
                "fieldsType": "FieldsV1",
                "subresource": "status",
                "fieldsV1": {
                    "f:status": {
                        "f:conditions": {
                            f'k:{{"type":"{t}"}}': {".": {}, "f:status": {}, "f:type": {}}
                            for t in ("ContainersReady", "Initialized", "PodScheduled", "Ready")
                        },
                        "f:containerStatuses": {},
                        "f:hostIP": {},
                        "f:phase": {},
                        "f:podIP": {},
                        "f:podIPs": {},
                        "f:startTime": {},
                    }
                },
            },
        ],
    )
    pod["spec"].update(
        containers=containers,
        volumes=[
            {"name": "config", "configMap": {"name": f"{app}-config", "defaultMode": 420}},
            {
                "name": "kube-api-access",
                "projected": {
                    "defaultMode": 420,
                    "sources": [
                        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                        {
                            "configMap": {
                                "name": "kube-root-ca.crt",
                                "items": [{"key": "ca.crt", "path": "ca.crt"}],
                            }
                        },
                    ],
                },
            },
        ],
        tolerations=[
            {
                "key": f"node.kubernetes.io/{why}",
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 300,
            }
            for why in ("not-ready", "unreachable")
        ],
        affinity={
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 100,
                        "podAffinityTerm": {
                            "labelSelector": {"matchLabels": {"app": app}},
                            "topologyKey": "topology.kubernetes.io/zone",
                        },
                    }
                ]
            }
        },
        priority=0,
        enableServiceLinks=True,
        preemptionPolicy="PreemptLowerPriority",
    )
    ready = "True" if phase == "Running" else "False"
    pod["status"].update(
        qosClass="Burstable",
        hostIP="10.0.0.10",
        hostIPs=[{"ip": "10.0.0.10"}],
        conditions=[
            {"type": t, "status": ready, "lastProbeTime": None, "lastTransitionTime": _CREATED}
            for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")
        ],
        containerStatuses=[
            {
                "name": c["name"],
                "ready": phase == "Running",
                "restartCount": 0,
                "started": phase == "Running",
                "image": c["image"],
                "imageID": c["image"] + "@sha256:" + "0f" * 32,
                "containerID": "containerd://" + "ab" * 32,
                "state": {"running": started},
                "lastState": {},
            }
            for c in containers
        ],
    )
    return pod


_ECR = "602401143452.dkr.ecr.eu-west-1.amazonaws.com"


def aws_node_daemonset(env: Mapping[str, str], *, nodes: int = 0, version: str = "v1.19.2") -> Obj:
    """The `kube-system/aws-node` DaemonSet with `env` set on its `aws-node` container.

    Like the real one it also carries an env var taken from a field reference, which has no
    literal value.
    """
    container_env: list[Obj] = [{"name": key, "value": value} for key, value in env.items()]
    container_env.append(
        {
            "name": "MY_NODE_NAME",
            "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "spec.nodeName"}},
        }
    )
    image = f"{_ECR}/amazon-k8s-cni"
    return _daemonset(
        "aws-node",
        [{"name": "aws-node", "image": f"{image}:{version}", "env": container_env}],
        nodes,
        init_containers=[{"name": "aws-vpc-cni-init", "image": f"{image}-init:{version}"}],
        service_account="aws-node",
    )


def kube_proxy_daemonset(*, nodes: int = 0) -> Obj:
    """The `kube-system/kube-proxy` DaemonSet of the EKS kube-proxy add-on."""
    image = f"{_ECR}/eks/kube-proxy:{KUBELET_VERSION.split('-')[0]}-eksbuild.2"
    return _daemonset(
        "kube-proxy", [{"name": "kube-proxy", "image": image}], nodes, service_account="kube-proxy"
    )


def _daemonset(
    name: str,
    containers: list[Obj],
    nodes: int,
    *,
    init_containers: Sequence[Obj] = (),
    service_account: str,
) -> Obj:
    """A host-network `kube-system` DaemonSet running on every Linux EC2 node (not on Windows
    nodes, not on Fargate), `nodes` of them scheduled and ready."""
    labels = {"k8s-app": name}
    pod_spec: Obj = {
        "containers": containers,
        "hostNetwork": True,
        "serviceAccountName": service_account,
        "priorityClassName": "system-node-critical",
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
                                {
                                    "key": "eks.amazonaws.com/compute-type",
                                    "operator": "NotIn",
                                    "values": ["fargate", "hybrid", "auto"],
                                },
                            ]
                        }
                    ]
                }
            }
        },
    }
    if init_containers:
        pod_spec["initContainers"] = list(init_containers)
    return {
        "kind": "DaemonSet",
        "apiVersion": "apps/v1",
        "metadata": _metadata(name, "kube-system", generation=1, labels=labels),
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": pod_spec},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "10%"}},
        },
        "status": {
            "currentNumberScheduled": nodes,
            "desiredNumberScheduled": nodes,
            "numberMisscheduled": 0,
            "numberReady": nodes,
            "updatedNumberScheduled": nodes,
            "numberAvailable": nodes,
            "observedGeneration": 1,
        },
    }


def daemonset_pod(daemonset: Obj, node_name: str, node_ip: str) -> Obj:
    """The DaemonSet's pod on one node, as its controller creates it: named after the
    DaemonSet with a random suffix, its template's labels, owned by the DaemonSet, bound to the
    node, on the host's network (so its IP is the node's)."""
    meta, template = daemonset["metadata"], daemonset["spec"]["template"]
    suffix = hashlib.sha256(f"{meta['name']}/{node_name}".encode()).hexdigest()
    # The 5 characters Kubernetes' name generator draws from (no vowels, no look-alikes).
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    name = (
        meta["name"]
        + "-"
        + "".join(alphabet[int(suffix[i : i + 2], 16) % 27] for i in range(0, 10, 2))
    )
    pod = pod_object("kube-system", name, node_name, node_ip, host_network=True)
    pod["metadata"].update(
        generateName=meta["name"] + "-",
        labels={
            **template["metadata"]["labels"],
            "controller-revision-hash": "5d8b8c6f4d",
            "pod-template-generation": "1",
        },
        ownerReferences=[
            {
                "apiVersion": "apps/v1",
                "kind": "DaemonSet",
                "name": meta["name"],
                "uid": meta["uid"],
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    )
    spec = template["spec"]
    pod["spec"].update(
        containers=[{**pod["spec"]["containers"][0], **c} for c in spec["containers"]],
        serviceAccountName=spec["serviceAccountName"],
        priorityClassName=spec["priorityClassName"],
        priority=2000001000,  # system-node-critical's
    )
    for status in pod["status"].get("containerStatuses", []):
        status.update(name=spec["containers"][0]["name"], image=spec["containers"][0]["image"])
    pod["status"].update(hostIP=node_ip, hostIPs=[{"ip": node_ip}])
    return pod


def sandbox_failure_event(
    namespace: str,
    pod: str,
    node_name: str,
    last_seen: str,
    *,
    count: int = 1,
    message: str = (
        "Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network "
        'for sandbox: plugin type="aws-cni" name="aws-cni" failed (add): add cmd: failed '
        "to assign an IP address to container"
    ),
) -> Obj:
    """A `v1` Event as kubelet records a pod whose sandbox could not be created."""
    return {
        "kind": "Event",
        "apiVersion": "v1",
        "metadata": _metadata(f"{pod}.{next(_ids):x}", namespace),
        "involvedObject": {"kind": "Pod", "namespace": namespace, "name": pod, "apiVersion": "v1"},
        "reason": "FailedCreatePodSandBox",
        "message": message,
        "source": {"component": "kubelet", "host": node_name},
        "firstTimestamp": last_seen,
        "lastTimestamp": last_seen,
        "count": count,
        "type": "Warning",
        "reportingComponent": "kubelet",
        "reportingInstance": node_name,
    }


def eni_config_object(name: str, subnet_id: str, security_groups: Sequence[str] = ()) -> Obj:
    """A `crd.k8s.amazonaws.com/v1alpha1` ENIConfig (custom networking), usually named for an AZ."""
    spec: Obj = {"subnet": subnet_id}
    if security_groups:
        spec["securityGroups"] = list(security_groups)
    return {
        "apiVersion": "crd.k8s.amazonaws.com/v1alpha1",
        "kind": "ENIConfig",
        "metadata": _metadata(name, generation=1),
        "spec": spec,
    }


KARPENTER_API = "karpenter.sh/v1"
NODE_CLASS_API = "karpenter.k8s.aws/v1"


def node_pool_object(
    name: str,
    node_class: str,
    *,
    limits: Mapping[str, str] | None = None,
    instance_types: Sequence[str] = (),
) -> Obj:
    """A `karpenter.sh/v1` NodePool naming its EC2NodeClass, its limits and instance types."""
    requirements: list[Obj] = [
        {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]},
    ]
    if instance_types:
        requirements.append(
            {
                "key": "node.kubernetes.io/instance-type",
                "operator": "In",
                "values": list(instance_types),
            }
        )
    spec: Obj = {
        "template": {
            "spec": {
                "nodeClassRef": {
                    "group": "karpenter.k8s.aws",
                    "kind": "EC2NodeClass",
                    "name": node_class,
                },
                "requirements": requirements,
            }
        },
        "disruption": {"consolidationPolicy": "WhenEmptyOrUnderutilized", "consolidateAfter": "1m"},
    }
    if limits:
        spec["limits"] = dict(limits)
    return {
        "apiVersion": KARPENTER_API,
        "kind": "NodePool",
        "metadata": _metadata(name, generation=1),
        "spec": spec,
    }


def ec2_node_class_object(name: str, subnet_selector_terms: Sequence[Mapping[str, Any]]) -> Obj:
    """A `karpenter.k8s.aws/v1` EC2NodeClass selecting its subnets by tags or ids."""
    return {
        "apiVersion": NODE_CLASS_API,
        "kind": "EC2NodeClass",
        "metadata": _metadata(name, generation=1),
        "spec": {
            "amiSelectorTerms": [{"alias": "al2023@latest"}],
            "role": "KarpenterNodeRole",
            "subnetSelectorTerms": [dict(term) for term in subnet_selector_terms],
            "securityGroupSelectorTerms": [{"tags": {"karpenter.sh/discovery": "cluster"}}],
        },
    }


class ApiError(Exception):
    """Answered as a `Status` object."""

    def __init__(self, code: int, reason: str, message: str, details: Obj | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details


def status_body(code: int, reason: str, message: str, details: Obj | None = None) -> Obj:
    body: Obj = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details is not None:
        body["details"] = details
    return body


def _not_found(plural: str, group: str, name: str) -> ApiError:
    """The real server's wording: `pods "x" not found`, `daemonsets.apps "x" not found`."""
    qualified = f"{plural}.{group}" if group else plural
    details: Obj = {"name": name, "kind": plural}
    if group:
        details["group"] = group
    return ApiError(404, "NotFound", f'{qualified} "{name}" not found', details)


# --- the token check, like EKS's aws-iam-authenticator -------------------------------------


class TokenRejected(Exception):
    pass


def _moto_secret_key(access_key_id: str) -> str | None:
    """The secret STS issued for an access key: moto keeps it, in this process."""
    if access_key_id == FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"]:
        return FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]
    from moto.iam.models import iam_backends
    from moto.utilities.utils import PARTITION_NAMES

    for _, account in list(iam_backends.items()):
        for partition in PARTITION_NAMES:
            key = account[partition].access_keys.get(access_key_id)
            if key is not None:
                return str(key.secret_access_key)
    return None


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def _expected_signature(
    url: urllib.parse.SplitResult, params: Sequence[tuple[str, str]], header_value: str, secret: str
) -> str:
    """SigV4 of a presigned GET whose signed headers are host and x-k8s-aws-id."""
    query = dict(params)
    date, region, service = query["X-Amz-Credential"].split("/")[1:4]
    canonical_query = "&".join(
        f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}"
        for k, v in sorted(params)
        if k != "X-Amz-Signature"
    )
    canonical_request = "\n".join(
        [
            "GET",
            url.path or "/",
            canonical_query,
            f"host:{url.netloc}\n{CLUSTER_ID_HEADER}:{header_value}\n",
            f"host;{CLUSTER_ID_HEADER}",
            hashlib.sha256(b"").hexdigest(),
        ]
    )
    scope = f"{date}/{region}/{service}/aws4_request"
    string_to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            query["X-Amz-Date"],
            scope,
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    )
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, "aws4_request"):
        key = _hmac(key, part)
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def _canonical_principal(arn: str) -> str:
    """An assumed-role session's ARN as the role ARN EKS access entries name (path dropped)."""
    assumed = re.fullmatch(r"arn:([^:]+):sts::(\d{12}):assumed-role/([^/]+)/.+", arn)
    if assumed:
        partition, account, role = assumed.groups()
        return f"arn:{partition}:iam::{account}:role/{role}"
    role = re.fullmatch(r"arn:([^:]+):iam::(\d{12}):role/(?:.*/)?([^/]+)", arn)
    if role:
        partition, account, name = role.groups()
        return f"arn:{partition}:iam::{account}:role/{name}"
    return arn


@dataclass(frozen=True)
class _Verified:
    arn: str
    expires_at: float


class EksTokenVerifier:
    """Checks `k8s-aws-v1.` tokens for one cluster and returns the caller's ARN."""

    def __init__(
        self,
        cluster_name: str,
        sts_endpoint: str | None,
        allowed_arns: Collection[str] | None,
        secret_key: Callable[[str], str | None] = _moto_secret_key,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.clock = clock  # seconds since the epoch, as the token's X-Amz-Date counts them
        self._cluster = cluster_name
        self._sts_host = urllib.parse.urlsplit(sts_endpoint).netloc if sts_endpoint else None
        self._allowed = (
            None if allowed_arns is None else {_canonical_principal(a) for a in allowed_arns}
        )
        self._secret_key = secret_key
        self._cache: dict[str, _Verified] = {}
        self._lock = threading.Lock()

    def verify(self, token: str) -> str:
        now = self.clock()
        with self._lock:
            cached = self._cache.get(token)
        if cached is not None and cached.expires_at > now:
            return cached.arn
        url, params, expires_at = self._parse(token, now)
        self._check_signature(url, params)
        arn = self._ask_sts(url, params)
        if self._allowed is not None and _canonical_principal(arn) not in self._allowed:
            raise TokenRejected(f"{arn} is not allowed on cluster {self._cluster}")
        with self._lock:
            self._cache[token] = _Verified(arn, expires_at)
        return arn

    def _parse(
        self, token: str, now: float
    ) -> tuple[urllib.parse.SplitResult, list[tuple[str, str]], float]:
        if not token.startswith(TOKEN_PREFIX):
            raise TokenRejected(f"token does not start with {TOKEN_PREFIX}")
        body = token.removeprefix(TOKEN_PREFIX)
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
        except (ValueError, UnicodeDecodeError) as error:
            raise TokenRejected("token is not base64url") from error
        url = urllib.parse.urlsplit(raw)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise TokenRejected("token is not a URL")
        if not self._is_trusted_sts(url):
            raise TokenRejected(f"token points at {url.netloc}, which is not STS")
        params = urllib.parse.parse_qsl(url.query, keep_blank_values=True, strict_parsing=True)
        query = dict(params)
        if len(query) != len(params):
            raise TokenRejected("token URL repeats a parameter")
        if query.get("Action") != "GetCallerIdentity" or query.get("Version") != "2011-06-15":
            raise TokenRejected("token URL is not sts:GetCallerIdentity")
        required = ("X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-Signature")
        if query.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256" or not all(
            k in query for k in required
        ):
            raise TokenRejected("token URL is not a SigV4 presigned URL")
        if CLUSTER_ID_HEADER not in query.get("X-Amz-SignedHeaders", "").split(";"):
            raise TokenRejected(f"token URL does not sign {CLUSTER_ID_HEADER}")
        try:
            signed_at = datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
            lifetime = int(query["X-Amz-Expires"])
        except ValueError as error:
            raise TokenRejected("token URL has a malformed date or expiry") from error
        if not 0 < lifetime <= _MAX_TOKEN_LIFETIME:
            raise TokenRejected(f"token lifetime {lifetime}s is outside 1..900s")
        expires_at = signed_at.replace(tzinfo=UTC).timestamp() + _TOKEN_WINDOW
        if expires_at <= now:
            raise TokenRejected("token has expired")
        return url, params, expires_at

    def _is_trusted_sts(self, url: urllib.parse.SplitResult) -> bool:
        # Like EKS, never call a URL a client handed us unless it is STS (here: moto).
        return url.netloc == self._sts_host or is_loopback(url.hostname)

    def _check_signature(
        self, url: urllib.parse.SplitResult, params: list[tuple[str, str]]
    ) -> None:
        # Real STS rejects a signature made for another cluster's header; moto checks no
        # signatures, so this server does, with the secret moto issued for the key.
        query = dict(params)
        if set(query["X-Amz-SignedHeaders"].split(";")) != {"host", CLUSTER_ID_HEADER}:
            raise TokenRejected("token URL signs headers this server cannot reproduce")
        access_key_id = query["X-Amz-Credential"].split("/")[0]
        secret = self._secret_key(access_key_id)
        if secret is None:
            raise TokenRejected("token was signed with an unknown access key")
        expected = _expected_signature(url, params, self._cluster, secret)
        if not hmac.compare_digest(expected, query["X-Amz-Signature"]):
            raise TokenRejected(f"token signature does not match cluster {self._cluster}")

    def _ask_sts(self, url: urllib.parse.SplitResult, params: list[tuple[str, str]]) -> str:
        query = dict(params)
        headers = {
            CLUSTER_ID_HEADER: self._cluster,
            # moto routes a request by its Authorization header and reads the caller's key
            # from it; a presigned URL alone would land on its S3 fallback. The same scope
            # and signature go along as the header form.
            "Authorization": (
                f"AWS4-HMAC-SHA256 Credential={query['X-Amz-Credential']}, "
                f"SignedHeaders={query['X-Amz-SignedHeaders']}, "
                f"Signature={query['X-Amz-Signature']}"
            ),
        }
        request = urllib.request.Request(url.geturl(), headers=headers, method="GET")
        try:
            with urllib.request.urlopen(request, timeout=_STS_TIMEOUT) as response:
                document = ElementTree.fromstring(response.read())
        except (urllib.error.URLError, OSError, ElementTree.ParseError) as error:
            raise TokenRejected(f"STS did not confirm the token: {error}") from error
        arn = next((e.text for e in document.iter() if e.tag.endswith("}Arn")), None)
        if not arn:
            raise TokenRejected("STS answered without an ARN")
        return arn


# --- resources and list semantics ---------------------------------------------------------


@dataclass(frozen=True)
class _Resource:
    attribute: str  # which state list on the server holds the objects
    list_kind: str
    api_version: str
    namespaced: bool
    fields: frozenset[str]  # field selector labels the real API supports for it

    @property
    def kind(self) -> str:
        return self.list_kind.removesuffix("List")

    @property
    def group(self) -> str:
        """The API group ("" for the core group), as Status details and messages name it."""
        return self.api_version.rpartition("/")[0]


_COMMON_FIELDS = frozenset({"metadata.name", "metadata.namespace"})
_RESOURCES = {
    ("api/v1", "nodes"): _Resource(
        "nodes", "NodeList", "v1", False, _COMMON_FIELDS | {"spec.unschedulable"}
    ),
    ("api/v1", "pods"): _Resource(
        "pods",
        "PodList",
        "v1",
        True,
        _COMMON_FIELDS
        | {
            "spec.nodeName",
            "spec.hostNetwork",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        },
    ),
    ("api/v1", "events"): _Resource(
        "events",
        "EventList",
        "v1",
        True,
        _COMMON_FIELDS
        | {
            "reason",
            "type",
            "source",
            "involvedObject.kind",
            "involvedObject.name",
            "involvedObject.namespace",
        },
    ),
    ("apis/apps/v1", "daemonsets"): _Resource(
        "daemonsets", "DaemonSetList", "apps/v1", True, _COMMON_FIELDS
    ),
    ("apis/crd.k8s.amazonaws.com/v1alpha1", "eniconfigs"): _Resource(
        "eni_configs", "ENIConfigList", "crd.k8s.amazonaws.com/v1alpha1", False, _COMMON_FIELDS
    ),
    ("apis/karpenter.sh/v1", "nodepools"): _Resource(
        "node_pools", "NodePoolList", KARPENTER_API, False, _COMMON_FIELDS
    ),
    ("apis/karpenter.k8s.aws/v1", "ec2nodeclasses"): _Resource(
        "node_classes", "EC2NodeClassList", NODE_CLASS_API, False, _COMMON_FIELDS
    ),
}
# Served only where Karpenter is installed: elsewhere their CRDs do not exist (404).
_KARPENTER_RESOURCES = frozenset({"node_pools", "node_classes"})
_PATH = re.compile(
    r"/(?P<group>api/v1|apis/[^/]+/[^/]+)"
    r"(?:/namespaces/(?P<namespace>[^/]+))?/(?P<plural>[a-z0-9]+)(?:/(?P<name>[^/]+))?"
)
# metav1.StatusReason for the codes tests make the server answer with.
_REASONS = {500: "InternalError", 504: "Timeout", 429: "TooManyRequests"}
_BOOLEAN_FIELDS = {"spec.unschedulable", "spec.hostNetwork"}
_EXPIRED_CONTINUE = (
    "The provided continue parameter is too old to display a consistent list result. "
    "You can start a new list without the continue parameter."
)


def _field_value(obj: Obj, label: str) -> str:
    value: Any = obj
    for part in label.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if label in _BOOLEAN_FIELDS:
        return "true" if value else "false"
    return "" if value is None else str(value)


def _field_filter(selector: str, supported: frozenset[str]) -> Callable[[Obj], bool]:
    terms: list[tuple[str, bool, str]] = []
    for term in filter(None, selector.split(",")):
        match = re.fullmatch(r"([^=!]+)(==|=|!=)(.*)", term)
        if not match:
            raise ApiError(400, "BadRequest", f"invalid field selector: {term!r}")
        label, operator, value = match.groups()
        if label not in supported:
            raise ApiError(400, "BadRequest", f'field label not supported: "{label}"')
        terms.append((label, operator != "!=", value))
    return lambda obj: all((_field_value(obj, l) == v) == eq for l, eq, v in terms)  # noqa: E741


# --- the server ---------------------------------------------------------------------------


class KubeApiServer:
    """One cluster's Kubernetes API on 127.0.0.1; set `.nodes`, `.pods`, ... to what it holds."""

    def __init__(
        self,
        cluster_name: str,
        *,
        sts_endpoint: str | None = None,
        allowed_arns: Collection[str] | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.cluster_name = cluster_name
        self._tls = tls  # serve https, like EKS, with this server context
        self.nodes: list[Obj] = []
        self.pods: list[Obj] = []
        self.events: list[Obj] = []
        self.daemonsets: list[Obj] = []
        self.eni_configs: list[Obj] = []
        self.karpenter = False  # Karpenter's CRDs are installed: NodePools, EC2NodeClasses
        self.node_pools: list[Obj] = []
        self.node_classes: list[Obj] = []
        # Plurals the caller's RBAC may not read (403), as a view-only access entry meets CRDs.
        self.forbidden: set[str] = set()
        self.requests: list[str] = []  # every request's target (path and query), in order
        self.auth_errors: list[str] = []  # why tokens were refused, for tests and the demo
        self.fail_with: int | None = None  # answer every request with this HTTP status
        # Called with each request's target before it is answered: tests expire continue tokens
        # or move the clock between the pages of a listing.
        self.on_request: Callable[[str], None] | None = None
        self.url = ""
        self._verifier = EksTokenVerifier(cluster_name, sts_endpoint, allowed_arns)
        self._continues: dict[str, tuple[str, list[Obj]]] = {}  # token -> (version, rest)
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        handler = type("Handler", (_Handler,), {"api": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        if self._tls is not None:
            self._httpd.socket = self._tls.wrap_socket(self._httpd.socket, server_side=True)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},  # how long stop() waits for the loop to notice
            name=f"kube-api-{self.cluster_name}",
            daemon=True,
        )
        self._thread.start()
        host, port = self._httpd.server_address[:2]
        scheme = "https" if self._tls is not None else "http"
        self.url = f"{scheme}://{host!s}:{port}"
        return self.url

    def stop(self) -> None:
        """Shut down and close the port: from now on the API is unreachable."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    @property
    def clock(self) -> Callable[[], float]:
        """The time tokens are checked against (EKS accepts one for 15 minutes)."""
        return self._verifier.clock

    @clock.setter
    def clock(self, clock: Callable[[], float]) -> None:
        self._verifier.clock = clock

    def expire_continue_tokens(self) -> None:
        """Forget every open listing, as etcd's compaction does: their next page is 410 Gone."""
        with self._lock:
            self._continues.clear()

    def __enter__(self) -> KubeApiServer:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def handle(
        self, target: str, authorization: str | None, accept: str | None = None
    ) -> tuple[int, Obj]:
        """One request in, (status, JSON body) out: everything but the HTTP framing.

        `accept` is the request's Accept header: a meta.k8s.io Table is rendered when asked.
        """
        self.requests.append(target)
        if self.on_request is not None:
            self.on_request(target)
        try:
            if self.fail_with is not None:
                status = HTTPStatus(self.fail_with)
                reason = _REASONS.get(status.value, status.phrase.replace(" ", ""))
                raise ApiError(status.value, reason, status.description)
            url = urllib.parse.urlsplit(target)
            if url.path.rstrip("/") == "/version":
                return 200, _VERSION
            self._authenticate(authorization)
            query = dict(urllib.parse.parse_qsl(url.query))
            document = discovery_document(url.path, self.served(), self.url.split("://")[-1])
            if document is not None:
                return 200, document
            body = self._route(url.path, query)
            if wants_table(accept):
                return 200, as_table(body, include_object=query.get("includeObject", "Metadata"))
            return 200, body
        except ApiError as error:
            return error.code, status_body(error.code, error.reason, error.message, error.details)

    def served(self) -> list[Served]:
        """Every resource this server serves, as discovery describes it."""
        return [
            Served(resource.api_version, plural, resource.kind, resource.namespaced)
            for (_, plural), resource in _RESOURCES.items()
            if self._serves(resource)
        ]

    def _serves(self, resource: _Resource) -> bool:
        return self.karpenter or resource.attribute not in _KARPENTER_RESOURCES

    def _authenticate(self, authorization: str | None) -> None:
        scheme, _, token = (authorization or "").partition(" ")
        try:
            if scheme.lower() != "bearer" or not token:
                raise TokenRejected("no bearer token")
            self._verifier.verify(token.strip())
        except TokenRejected as error:
            self.auth_errors.append(str(error))
            raise ApiError(401, "Unauthorized", "Unauthorized") from error

    def _route(self, path: str, query: Mapping[str, str]) -> Obj:
        match = _PATH.fullmatch(path.rstrip("/"))
        resource = match and _RESOURCES.get((match["group"], match["plural"]))
        if resource is not None and not self._serves(resource):
            resource = None
        if not match or resource is None or (match["namespace"] and not resource.namespaced):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if "watch" in query:
            raise ApiError(400, "BadRequest", "watch is not served here")
        if match["plural"] in self.forbidden:
            qualified = f"{match['plural']}.{resource.group}" if resource.group else match["plural"]
            raise ApiError(
                403,
                "Forbidden",
                f'{qualified} is forbidden: User "ipaudit" cannot list resource '
                f'"{match["plural"]}" in API group "{resource.group}" at the cluster scope',
            )
        objects: list[Obj] = getattr(self, resource.attribute)
        if match["namespace"]:
            objects = [o for o in objects if o["metadata"].get("namespace") == match["namespace"]]
        if match["name"]:
            for obj in objects:
                if obj["metadata"]["name"] == match["name"]:
                    return obj
            raise _not_found(match["plural"], resource.group, match["name"])
        return self._list(resource, objects, query)

    def _list(self, resource: _Resource, objects: list[Obj], query: Mapping[str, str]) -> Obj:
        if "continue" in query:
            with self._lock:
                snapshot = self._continues.pop(query["continue"], None)
            if snapshot is None:
                raise ApiError(410, "Expired", _EXPIRED_CONTINUE)
            version, remaining = snapshot
        else:
            by_field = _field_filter(query.get("fieldSelector", ""), resource.fields)
            try:
                by_label = label_filter(query.get("labelSelector", ""))
            except LabelSelectorError as error:
                raise ApiError(400, "BadRequest", str(error)) from None

            def keep(obj: Obj) -> bool:
                return by_field(obj) and by_label(obj)

            # Sorted by namespace/name like etcd keys, so pages are stable.
            remaining = sorted(
                (o for o in objects if keep(o)),
                key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]),
            )
            version = max((o["metadata"]["resourceVersion"] for o in objects), default="1", key=int)
        try:
            limit = int(query.get("limit") or 0)
        except ValueError:
            raise ApiError(400, "BadRequest", f"invalid limit: {query['limit']!r}") from None
        page, rest = (remaining[:limit], remaining[limit:]) if limit > 0 else (remaining, [])
        metadata: Obj = {"resourceVersion": version}
        if rest:
            token = base64.urlsafe_b64encode(
                json.dumps(
                    {"v": "meta.k8s.io/v1", "rv": int(version), "s": secrets.token_hex(8)}
                ).encode()
            ).decode()
            with self._lock:
                self._continues[token] = (version, rest)
            metadata.update({"continue": token, "remainingItemCount": len(rest)})
        return {
            "kind": resource.list_kind,
            "apiVersion": resource.api_version,
            "metadata": metadata,
            "items": page,
        }


_VERSION: Obj = {
    "major": KUBERNETES_VERSION.split(".")[0],
    "minor": KUBERNETES_VERSION.split(".")[1],
    "gitVersion": f"v{KUBERNETES_VERSION}.4-eks-2d5f260",
    "gitCommit": "9bcd1fbd8f1d0bf9bd1e2ec0a3a1cd4d5db8ce4c",
    "gitTreeState": "clean",
    "buildDate": "2025-01-02T12:00:00Z",
    "goVersion": "go1.22.10",
    "compiler": "gc",
    "platform": "linux/amd64",
}


_TABLE_CONTENT_TYPE = "application/json;as=Table;v=v1;g=meta.k8s.io"


class _Handler(BaseHTTPRequestHandler):
    api: KubeApiServer
    server_version = "kube-apiserver"

    def do_GET(self) -> None:
        status, body = self.api.handle(
            self.path, self.headers.get("Authorization"), self.headers.get("Accept")
        )
        self._send(status, body)

    def _refuse(self) -> None:
        self.api.requests.append(self.path)
        self._send(405, status_body(405, "MethodNotAllowed", "this server only reads"))

    do_POST = do_PUT = do_PATCH = do_DELETE = _refuse

    def _send(self, status: int, body: Obj) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        # The real server names the Table media type it negotiated.
        table = body.get("kind") == "Table"
        self.send_header("Content-Type", _TABLE_CONTENT_TYPE if table else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # requests are recorded on the server object instead
