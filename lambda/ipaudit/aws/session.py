"""Sessions per audit target: the caller's own account as is, every other one through AssumeRole."""

from __future__ import annotations

import threading
import weakref
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
from botocore.parsers import ResponseParserError, ResponseParserFactory

from ipaudit.aws.error_line import answered_html, one_line
from ipaudit.errors import InputError

ROLE_SESSION_NAME = "ipaudit"
_TRANSIENT = frozenset(
    {"Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException"}
)
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


# The per-call budget: adaptive retries ride out throttling across many targets, and a hung
# endpoint costs at most ATTEMPTS x (CONNECT + READ) seconds per call, not minutes; the run's
# deadline bounds the rest.
ATTEMPTS = 6
CONNECT_TIMEOUT = 3
READ_TIMEOUT = 10


def client_config() -> Config:
    """The one client configuration, for every AWS client the product makes."""
    return Config(
        retries={"mode": "adaptive", "total_max_attempts": ATTEMPTS},
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        user_agent_extra="ipaudit",
    )


def caller_account(session: boto3.Session) -> str:
    """The account the session's credentials belong to."""
    sts = make_client(session, "sts", region_name=session.region_name or _FALLBACK_STS_REGION)
    try:
        return str(sts.get_caller_identity()["Account"])
    except ClientError as error:
        if answered_html(error):
            raise InputError(f"AWS STS: {one_line(error)}") from None
        code = _error_code(error)
        if (
            code in _TRANSIENT
            or error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500
        ):
            # Still throttled after every retry: AWS is busy, the credentials are fine.
            raise InputError(
                f"AWS STS: GetCallerIdentity kept failing ({code}); try again later"
            ) from None
        raise InputError(f"AWS credentials: {code}") from None
    except NoCredentialsError:
        raise  # worded once for every command, by the command line (cli.aws_problem)
    except (BotoCoreError, ResponseParserError) as error:
        raise InputError(f"AWS STS: GetCallerIdentity: {one_line(error)}") from None


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
    credentials = _assume(base, account_id, role_name, external_id, region)
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=region,
    )


def _assume(
    base: boto3.Session, account_id: str, role_name: str, external_id: str | None, region: str
) -> dict[str, Any]:
    """The member role's temporary credentials (AssumeRole's `Credentials`)."""
    partition = base.get_partition_for_region(region)
    role_arn = f"arn:{partition}:iam::{account_id}:role/{role_name}"
    try:
        return assume_role(base, role_arn, region=region, external_id=external_id)
    except ClientError as error:
        raise TargetError(f"cannot assume {role_arn}: {_error_code(error)}") from None
    except (BotoCoreError, ResponseParserError) as error:
        raise TargetError(f"cannot assume {role_arn}: {one_line(error)}") from None


def assume_role(
    base: boto3.Session,
    role_arn: str,
    *,
    region: str,
    external_id: str | None = None,
    session_name: str = ROLE_SESSION_NAME,
) -> dict[str, Any]:
    """AssumeRole's `Credentials` for `role_arn`, asked with `base`'s; AWS errors propagate."""
    sts = make_client(base, "sts", region_name=region)
    request: dict[str, Any] = {"RoleArn": role_arn, "RoleSessionName": session_name}
    if external_id:
        request["ExternalId"] = external_id
    return dict(sts.assume_role(**request)["Credentials"])


# Assumed credentials are reused while they have this long left: a run never outlives it.
_REUSE_MARGIN = timedelta(minutes=20)


class AccountAccess:
    """Clients for every account x region of an audit, all made from the one base session.

    A member account's role is assumed once, and its credentials serve every region (STS
    credentials are not regional); a failed AssumeRole is remembered, so the account's other
    regions fail with the same line without asking again. A client is made once per account,
    region and service: making a session per target cost ~170 ms of CPU behind the global lock.
    """

    def __init__(
        self,
        base: boto3.Session,
        *,
        caller_account: str,
        role_name: str,
        external_id: str | None,
    ) -> None:
        self._base = base
        self._caller = caller_account
        self._role_name = role_name
        self._external_id = external_id
        self._lock = threading.Lock()
        self._account_locks: dict[str, threading.Lock] = {}
        self._credentials: dict[str, dict[str, Any] | TargetError] = {}
        self._clients: dict[tuple[str, str, str], Any] = {}
        self._verbatim: boto3.Session | None = None

    def client(self, account_id: str, region: str, service: str) -> Any:
        """A shared client for the account and region; raises TargetError when the account's
        role cannot be assumed."""
        key = (account_id, region, service)
        with self._lock:
            made = self._clients.get(key)
        if made is not None:
            return made
        keys = self.credentials(account_id, region)
        with SESSION_LOCK:
            source = self._base
            if service in VERBATIM_TIMESTAMP_SERVICES:
                self._verbatim = self._verbatim or verbatim_timestamps(self._base)
                source = self._verbatim
            made = source.client(  # type: ignore[call-overload]
                service, region_name=region, config=client_config(), **keys
            )
        with self._lock:
            return self._clients.setdefault(key, made)

    def credentials(self, account_id: str, region: str) -> dict[str, str]:
        """The client keyword arguments for the account: none for the caller's own (its
        credentials refresh themselves), the assumed role's keys for any other."""
        if account_id == self._caller:
            return {}
        with self._lock:
            account_lock = self._account_locks.setdefault(account_id, threading.Lock())
        with account_lock:  # the account's other regions wait for the one AssumeRole
            known = self._credentials.get(account_id)
            if known is None or (not isinstance(known, TargetError) and _expiring(known)):
                try:
                    known = _assume(
                        self._base, account_id, self._role_name, self._external_id, region
                    )
                except TargetError as error:
                    known = error
                self._credentials[account_id] = known
        if isinstance(known, TargetError):
            raise TargetError(str(known))
        return {
            "aws_access_key_id": known["AccessKeyId"],
            "aws_secret_access_key": known["SecretAccessKey"],
            "aws_session_token": known["SessionToken"],
        }


# EC2's answers carry timestamps the audit never reads (an ENI's AttachTime, an instance's
# LaunchTime, its volumes' and interfaces' attach times...): botocore parsing each with dateutil
# was a fifth of a 10,000-node audit's CPU. These services' clients leave timestamps as the ISO
# 8601 strings AWS sent. STS is not among them: `_expiring` reads its `Expiration` as a datetime.
VERBATIM_TIMESTAMP_SERVICES = frozenset({"ec2"})


def _verbatim(text: str) -> str:
    return text


def verbatim_timestamps(base: boto3.Session) -> boto3.Session:
    """A session like `base` (its profile, its credentials object, which keeps refreshing; its
    loaded service models, shared rather than parsed again) whose clients parse every answer
    as botocore does except timestamps, which stay strings."""
    profile = base.profile_name if base.profile_name in base.available_profiles else None
    core = botocore.session.Session(profile=profile)
    made = boto3.Session(botocore_session=core, region_name=base.region_name)
    # After boto3.Session, which adds its data path to the loader it finds: the shared one has
    # it already, and must not gain it again every audit.
    core.register_component("data_loader", base._session.get_component("data_loader"))
    core.register_component("credential_provider", _Given(base.get_credentials()))
    factory = ResponseParserFactory()
    factory.set_parser_defaults(timestamp_parser=_verbatim)
    core.register_component("response_parser_factory", factory)
    return made


def _expiring(credentials: dict[str, Any]) -> bool:
    expiration = credentials.get("Expiration")
    if not isinstance(expiration, datetime):
        return False
    moment = expiration if expiration.tzinfo else expiration.replace(tzinfo=UTC)
    return moment - datetime.now(UTC) < _REUSE_MARGIN


_SHARED: weakref.WeakKeyDictionary[boto3.Session, dict[tuple[str, str, str | None], AccountAccess]]
_SHARED = weakref.WeakKeyDictionary()


def shared_access(
    base: boto3.Session, *, caller_account: str, role_name: str, external_id: str | None
) -> AccountAccess:
    """The one AccountAccess of `base`: every target collected with the same base session (an
    audit, a fan-out batch) shares its assumed credentials and clients."""
    with SESSION_LOCK:
        per_base = _SHARED.setdefault(base, {})
        key = (caller_account, role_name, external_id)
        access = per_base.get(key)
        if access is None:
            access = per_base[key] = AccountAccess(
                base, caller_account=caller_account, role_name=role_name, external_id=external_id
            )
        return access


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
    if answered_html(error):
        return one_line(error)
    return str(error.response.get("Error", {}).get("Code", "") or error)
