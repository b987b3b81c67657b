"""Sessions per audit target: the caller's own account as is, every other one through AssumeRole."""

from __future__ import annotations

import threading
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import BotoCoreError, ClientError

from ipaudit.errors import InputError

ROLE_SESSION_NAME = "ipaudit"
# Only to reach STS when nothing names a region; resolve_regions still insists on one.
_FALLBACK_STS_REGION = "us-east-1"


# boto3 sessions are not thread-safe (their clients are). Parallel targets share the base session,
# so making clients and sessions is serialized while the calls themselves run in parallel.
SESSION_LOCK = threading.Lock()


def make_client(session: boto3.Session, service: str, **kwargs: Any) -> Any:
    """A client with the one configuration, safe to call from any thread."""
    with SESSION_LOCK:
        return session.client(service, config=client_config(), **kwargs)  # type: ignore[call-overload]


class TargetError(Exception):
    """One account or region cannot be audited; the run records it in coverage and goes on."""


def client_config() -> Config:
    """The one client configuration: adaptive retries ride out throttling across many targets."""
    return Config(
        retries={"mode": "adaptive", "max_attempts": 10},
        connect_timeout=5,
        read_timeout=30,
        user_agent_extra="ipaudit",
    )


def caller_account(session: boto3.Session) -> str:
    """The account the session's credentials belong to."""
    sts = session.client(
        "sts", region_name=session.region_name or _FALLBACK_STS_REGION, config=client_config()
    )
    try:
        return str(sts.get_caller_identity()["Account"])
    except ClientError as error:
        raise InputError(f"AWS credentials: {_error_code(error)}") from None
    except BotoCoreError as error:
        raise InputError(f"AWS credentials: {error}") from None


def target_session(
    base: boto3.Session,
    account_id: str,
    *,
    caller_account: str,
    role_name: str,
    external_id: str | None,
    region: str,
) -> boto3.Session:
    """A session for one account x region; raises TargetError when the role cannot be assumed."""
    if account_id == caller_account:
        with SESSION_LOCK:
            return _same_credentials(base, region)
    partition = base.get_partition_for_region(region)
    role_arn = f"arn:{partition}:iam::{account_id}:role/{role_name}"
    sts = make_client(base, "sts", region_name=region)
    request: dict[str, Any] = {"RoleArn": role_arn, "RoleSessionName": ROLE_SESSION_NAME}
    if external_id:
        request["ExternalId"] = external_id
    try:
        credentials = sts.assume_role(**request)["Credentials"]
    except ClientError as error:
        raise TargetError(f"cannot assume {role_arn}: {_error_code(error)}") from None
    except BotoCoreError as error:
        raise TargetError(f"cannot assume {role_arn}: {error}") from None
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=region,
    )


def _same_credentials(base: boto3.Session, region: str) -> boto3.Session:
    if base.region_name == region:
        return base
    # A fresh botocore session handed the base's credentials object: refreshable credentials
    # keep refreshing, and the base session's own region is never touched by another thread.
    profile = base.profile_name if base.profile_name in base.available_profiles else None
    core = botocore.session.Session(profile=profile)
    core.register_component("credential_provider", _Given(base.get_credentials()))
    return boto3.Session(botocore_session=core, region_name=region)


class _Given:
    """A credential provider that hands out credentials already resolved elsewhere."""

    def __init__(self, credentials: Credentials | None) -> None:
        self._credentials = credentials

    def load_credentials(self) -> Credentials | None:
        return self._credentials


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "") or error)
