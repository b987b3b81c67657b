"""Reading one cluster's Kubernetes API with an EKS token, as the audit does for every cluster."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from ipaudit.kube.collect import KubeError, collect_kube
from ipaudit.kube.token import eks_token
from ipaudit.sim.kube_api import (
    KubeApiServer,
    aws_node_daemonset,
    eni_config_object,
    node_object,
    pod_object,
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

    assert dict(view.cni_env) == {}
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


def test_requests_per_cluster_stay_constant_as_nodes_grow(
    aws: boto3.Session, kube: KubeApiServer
) -> None:
    token = eks_token(aws, "prod")
    populate(kube, nodes=3)
    small = collect_kube(kube.url, token, None)
    populate(kube, nodes=30)
    large = collect_kube(kube.url, token, None)

    assert (len(small.nodes), len(large.nodes)) == (3, 30)
    assert small.api_calls == large.api_calls == 3
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


def expired_token(aws: boto3.Session, monkeypatch: pytest.MonkeyPatch) -> str:
    two_minutes_ago = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=2)
    with monkeypatch.context() as patch:
        patch.setattr("botocore.auth.get_current_datetime", lambda: two_minutes_ago)
        return eks_token(aws, "prod")


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
        "expired": lambda: expired_token(aws, monkeypatch),
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
