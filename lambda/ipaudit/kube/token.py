"""The EKS IAM token, built the way `aws eks get-token` builds it.

EKS authenticates a bearer token by calling the presigned `sts:GetCallerIdentity` URL inside it,
with the header `x-k8s-aws-id: <cluster name>`. Because that header is part of the signature, a
token is only good for the cluster it was made for.
"""

from __future__ import annotations

import base64
from typing import Any

import boto3

TOKEN_PREFIX = "k8s-aws-v1."
CLUSTER_ID_HEADER = "x-k8s-aws-id"
# EKS accepts up to 15 minutes; 60 s is what `aws eks get-token` asks for.
_EXPIRES_IN = 60


def eks_token(session: boto3.Session, cluster_name: str) -> str:
    """A bearer token for `cluster_name`'s Kubernetes API, valid for 60 seconds."""
    sts = session.client("sts")  # the session's region, and AWS_ENDPOINT_URL when set

    def add_cluster_header(request: Any, **_: Any) -> None:
        request.headers[CLUSTER_ID_HEADER] = cluster_name

    # The header must be on the request before it is signed, so SignedHeaders covers it.
    sts.meta.events.register("before-sign.sts.GetCallerIdentity", add_cluster_header)
    url = sts.generate_presigned_url(
        "get_caller_identity", Params={}, ExpiresIn=_EXPIRES_IN, HttpMethod="GET"
    )
    encoded = base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")
    return TOKEN_PREFIX + encoded
