"""The EKS token: what EKS's authenticator expects to find inside it."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest

from ipaudit.kube.token import eks_token, exec_credential

SIGNED_AT = datetime(2026, 3, 2, 8, 30, 0)  # botocore's clock is naive UTC


@pytest.fixture
def session(monkeypatch: pytest.MonkeyPatch) -> boto3.Session:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_STS", raising=False)
    # Two tokens made in the same second must differ only by what they were made for.
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: SIGNED_AT)
    return boto3.Session(
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        region_name="eu-west-1",
    )


def decode(token: str) -> str:
    body = token.removeprefix("k8s-aws-v1.")
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()


def test_token_is_a_base64url_presigned_get_caller_identity_url(session: boto3.Session) -> None:
    token = eks_token(session, "prod")

    assert token.startswith("k8s-aws-v1.")
    body = token.removeprefix("k8s-aws-v1.")
    assert "=" not in body and "+" not in body and "/" not in body
    url = urlsplit(decode(token))
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert (url.scheme, url.hostname) == ("https", "sts.eu-west-1.amazonaws.com")
    assert query["Action"] == "GetCallerIdentity"
    assert query["Version"] == "2011-06-15"
    assert query["X-Amz-Expires"] == "60"
    assert query["X-Amz-Date"] == "20260302T083000Z"
    assert "x-k8s-aws-id" in query["X-Amz-SignedHeaders"].split(";")
    assert query["X-Amz-Credential"].startswith("AKIDEXAMPLE/20260302/eu-west-1/sts/")


def test_token_is_only_good_for_the_cluster_it_names(session: boto3.Session) -> None:
    def signature(cluster: str) -> str:
        return parse_qs(urlsplit(decode(eks_token(session, cluster))).query)["X-Amz-Signature"][0]

    assert signature("prod") == signature("prod")
    assert signature("prod") != signature("staging")


def test_token_points_at_the_sts_endpoint_boto3_is_configured_with(
    session: boto3.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")

    url = urlsplit(decode(eks_token(session, "prod")))

    assert url.netloc == "127.0.0.1:4566"


def test_exec_credential_tells_kubectl_to_reuse_the_token_for_14_minutes() -> None:
    signed = datetime(2026, 3, 2, 8, 30, 0, tzinfo=UTC)

    printed = exec_credential("k8s-aws-v1.abc", signed)

    assert printed == {
        "kind": "ExecCredential",
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "spec": {},
        "status": {"expirationTimestamp": "2026-03-02T08:44:00Z", "token": "k8s-aws-v1.abc"},
    }
