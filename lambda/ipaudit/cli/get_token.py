"""`ipaudit get-token`: the EKS token for a kubeconfig exec plugin, like `aws eks get-token`.

A kubeconfig user with `exec: {command: ipaudit, args: [get-token, --cluster-name, NAME]}` lets
kubectl reach an EKS cluster (or `ipaudit demo --serve`) with no AWS CLI installed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ipaudit.cli.options import add_aws_flags, session_from
from ipaudit.errors import InputError

_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+")
_SESSION_NAME = "ipaudit-get-token"
_CLUSTER_NAME = re.compile(r"[0-9A-Za-z][A-Za-z0-9_-]{0,99}")  # EKS CreateCluster's rule


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "get-token",
        help="print an ExecCredential with the EKS token for a cluster (a kubeconfig exec plugin)",
    )
    parser.add_argument("--cluster-name", required=True, help="the EKS cluster's name")
    parser.add_argument(
        "--role-arn", help="assume this IAM role first and sign the token with its credentials"
    )
    add_aws_flags(parser)
    parser.set_defaults(run=run)


def requested_version(env: Mapping[str, str]) -> str:
    """The ExecCredential apiVersion kubectl asked for in KUBERNETES_EXEC_INFO (v1beta1 if none)."""
    from ipaudit.kube.token import EXEC_CREDENTIAL_V1BETA1, EXEC_CREDENTIAL_VERSIONS

    raw = env.get("KUBERNETES_EXEC_INFO")
    if not raw:
        return EXEC_CREDENTIAL_V1BETA1
    try:
        version = json.loads(raw).get("apiVersion")
    except (ValueError, AttributeError):
        raise InputError("KUBERNETES_EXEC_INFO: not a JSON ExecCredential") from None
    if version not in EXEC_CREDENTIAL_VERSIONS:
        raise InputError(
            f"KUBERNETES_EXEC_INFO: apiVersion {version!r} is not one of "
            + ", ".join(EXEC_CREDENTIAL_VERSIONS)
        )
    return str(version)


def run(args: argparse.Namespace) -> int:
    import boto3
    from botocore.exceptions import NoRegionError

    from ipaudit.aws.session import assume_role
    from ipaudit.kube.token import eks_token, exec_credential

    if not _CLUSTER_NAME.fullmatch(args.cluster_name):
        # An empty name would sign a token for no cluster, which every API server refuses.
        raise InputError(
            f"--cluster-name: {args.cluster_name!r} is not an EKS cluster name (1-100 letters, "
            "digits, - and _, starting with a letter or digit)"
        )
    if args.role_arn is not None and not _ROLE_ARN.fullmatch(args.role_arn):
        raise InputError(f"--role-arn: {args.role_arn!r} is not an IAM role ARN")
    api_version = requested_version(os.environ)
    session = session_from(args)
    if not session.region_name:
        raise NoRegionError()  # the token names STS's regional endpoint
    if args.role_arn:
        credentials = assume_role(
            session, args.role_arn, region=session.region_name, session_name=_SESSION_NAME
        )
        session = boto3.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=session.region_name,
        )
    signed_at = datetime.now(UTC)
    token = eks_token(session, args.cluster_name)
    json.dump(exec_credential(token, signed_at, api_version), sys.stdout)
    sys.stdout.write("\n")
    return 0
