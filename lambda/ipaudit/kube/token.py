"""The EKS IAM token, built the way `aws eks get-token` builds it, and renewed before it lapses.

EKS authenticates a bearer token by calling the presigned `sts:GetCallerIdentity` URL inside it,
with the header `x-k8s-aws-id: <cluster name>`. Because that header is part of the signature, a
token is only good for the cluster it was made for. EKS accepts a token for 15 minutes after it
was signed, whatever its `X-Amz-Expires` says (aws-iam-authenticator's pkg/token).
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import boto3

TOKEN_PREFIX = "k8s-aws-v1."
CLUSTER_ID_HEADER = "x-k8s-aws-id"
# What `aws eks get-token` asks for; EKS itself goes by the 15 minutes below.
_EXPIRES_IN = 60
EKS_TOKEN_WINDOW = 15 * 60
# Renewed a minute before the window closes: room for one slow request and some clock skew.
RENEW_AFTER = EKS_TOKEN_WINDOW - 60
# A shared client's event handlers are shared too: one presign at a time names its cluster.
_PRESIGN_LOCK = threading.Lock()
# kubectl is told to reuse a token until it is due for renewal, as `aws eks get-token` does.
REUSE_FOR = timedelta(seconds=RENEW_AFTER)
EXEC_CREDENTIAL_V1BETA1 = "client.authentication.k8s.io/v1beta1"
EXEC_CREDENTIAL_VERSIONS = (EXEC_CREDENTIAL_V1BETA1, "client.authentication.k8s.io/v1")


def eks_token(session: boto3.Session, cluster_name: str) -> str:
    """A bearer token for `cluster_name`'s Kubernetes API."""
    return presigned_token(session.client("sts"), cluster_name)


def presigned_token(sts_client: Any, cluster_name: str) -> str:
    """A bearer token for `cluster_name`, presigned by an STS client (shared between clusters)."""

    def add_cluster_header(request: Any, **_: Any) -> None:
        request.headers[CLUSTER_ID_HEADER] = cluster_name

    # The header must be on the request before it is signed, so SignedHeaders covers it.
    event, unique_id = "before-sign.sts.GetCallerIdentity", "ipaudit-eks-cluster-header"
    with _PRESIGN_LOCK:
        sts_client.meta.events.register(event, add_cluster_header, unique_id=unique_id)
        try:
            url = sts_client.generate_presigned_url(
                "get_caller_identity", Params={}, ExpiresIn=_EXPIRES_IN, HttpMethod="GET"
            )
        finally:
            sts_client.meta.events.unregister(event, unique_id=unique_id)
    encoded = base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")
    return TOKEN_PREFIX + encoded


class EksTokens:
    """The token for one cluster, made again once it is RENEW_AFTER seconds old.

    Called before every request of a listing, so a cluster whose listing outlasts one token's
    window keeps going with a fresh one.
    """

    def __init__(
        self,
        mint: Callable[[], str],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._mint = mint
        self._clock = clock
        self._token: str | None = None
        self._made_at = 0.0
        self.minted = 0  # how many tokens were made: one per cluster unless a listing is long

    def __call__(self) -> str:
        now = self._clock()
        if self._token is None or now - self._made_at >= RENEW_AFTER:
            self._made_at = now
            self._token = self._mint()
            self.minted += 1
        return self._token


def exec_credential(
    token: str, signed_at: datetime, api_version: str = EXEC_CREDENTIAL_V1BETA1
) -> dict[str, Any]:
    """The ExecCredential a kubeconfig exec plugin prints, as `aws eks get-token` prints it.

    `signed_at` is a moment no later than the token's signing (UTC): kubectl reuses the token
    until `expirationTimestamp`, 14 minutes after it.
    """
    expires = (signed_at + REUSE_FOR).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "kind": "ExecCredential",
        "apiVersion": api_version,
        "spec": {},
        "status": {"expirationTimestamp": expires, "token": token},
    }
