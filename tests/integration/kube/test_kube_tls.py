"""The path every real cluster takes: https, verified against the cluster's own CA as
DescribeCluster gives it (base64 PEM), with the EKS token as bearer."""

from __future__ import annotations

import base64
import ipaddress
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ipaudit.kube.collect import KubeError, collect_kube
from ipaudit.kube.token import eks_token
from ipaudit.sim.aws import MotoServer
from ipaudit.sim.kube_api import KubeApiServer, aws_node_daemonset, node_object


def certificate_authority(name: str) -> tuple[bytes, bytes]:
    """A self-signed CA certificate valid for 127.0.0.1, and its key, both PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return certificate.public_bytes(serialization.Encoding.PEM), key_pem


@pytest.fixture
def cluster_ca(tmp_path: Path) -> tuple[bytes, ssl.SSLContext]:
    cert, key = certificate_authority("kubernetes")
    (tmp_path / "ca.pem").write_bytes(cert)
    (tmp_path / "ca.key").write_bytes(key)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "ca.pem", tmp_path / "ca.key")
    return cert, context


@pytest.fixture
def https_kube(
    aws: boto3.Session, moto_server: MotoServer, cluster_ca: tuple[bytes, ssl.SSLContext]
) -> Iterator[KubeApiServer]:
    server = KubeApiServer("prod", sts_endpoint=moto_server.url, tls=cluster_ca[1])
    server.nodes = [node_object("node-1", "i-0123456789abcdef0", "eu-west-1a", 29)]
    server.daemonsets = [aws_node_daemonset({"WARM_IP_TARGET": "5"})]
    server.start()
    yield server
    server.stop()


def test_the_cluster_ca_from_describe_cluster_verifies_the_api(
    aws: boto3.Session, https_kube: KubeApiServer, cluster_ca: tuple[bytes, ssl.SSLContext]
) -> None:
    ca_data = base64.b64encode(cluster_ca[0]).decode()  # as DescribeCluster returns it

    view = collect_kube(https_kube.url, eks_token(aws, "prod"), ca_data)

    assert https_kube.url.startswith("https://")
    assert [n.instance_id for n in view.nodes] == ["i-0123456789abcdef0"]
    assert view.cni_env == {"WARM_IP_TARGET": "5"}


def test_an_api_whose_certificate_another_ca_signed_is_refused_in_one_line(
    aws: boto3.Session, https_kube: KubeApiServer
) -> None:
    impostor, _ = certificate_authority("someone-else")

    with pytest.raises(KubeError) as failed:
        collect_kube(https_kube.url, eks_token(aws, "prod"), base64.b64encode(impostor).decode())

    message = str(failed.value)
    assert "failed TLS verification" in message and "\n" not in message
    assert https_kube.requests == []  # the token never reached it
