"""The path every real cluster takes: https, verified against the cluster's own CA as
DescribeCluster gives it (base64 PEM), with the EKS token as bearer."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest

from ipaudit.kube.kube_view import KubeError, collect_kube
from ipaudit.kube.token import eks_token
from ipaudit_sim.aws import MotoServer
from ipaudit_sim.kube_api import KubeApiServer, aws_node_daemonset, node_object
from ipaudit_sim.tls import ClusterCertificates, cluster_certificates


@pytest.fixture
def cluster_ca() -> ClusterCertificates:
    return cluster_certificates("prod")


@pytest.fixture
def https_kube(
    aws: boto3.Session, moto_server: MotoServer, cluster_ca: ClusterCertificates
) -> Iterator[KubeApiServer]:
    server = KubeApiServer("prod", sts_endpoint=moto_server.url, tls=cluster_ca.server_context)
    server.nodes = [node_object("node-1", "i-0123456789abcdef0", "eu-west-1a", 29)]
    server.daemonsets = [aws_node_daemonset({"WARM_IP_TARGET": "5"})]
    server.start()
    yield server
    server.stop()


def test_the_cluster_ca_from_describe_cluster_verifies_the_api(
    aws: boto3.Session, https_kube: KubeApiServer, cluster_ca: ClusterCertificates
) -> None:
    view = collect_kube(https_kube.url, eks_token(aws, "prod"), cluster_ca.ca_data)

    assert https_kube.url.startswith("https://")
    assert [n.instance_id for n in view.nodes] == ["i-0123456789abcdef0"]
    assert view.cni_env == {"WARM_IP_TARGET": "5"}


def test_an_api_whose_certificate_another_ca_signed_is_refused_in_one_line(
    aws: boto3.Session, https_kube: KubeApiServer
) -> None:
    impostor = cluster_certificates("someone-else")

    with pytest.raises(KubeError) as failed:
        collect_kube(https_kube.url, eks_token(aws, "prod"), impostor.ca_data)

    message = str(failed.value)
    assert "failed TLS verification" in message and "\n" not in message
    assert https_kube.requests == []  # the token never reached it
