"""The deployment's settings, read from CDK context and validated before any construct exists.

Every key has a default in `cdk.json` and can be overridden with `cdk synth -c key=value`. A bad
value raises `ContextError`, one line naming the context key, so it fails `cdk synth` rather than
the first run. The function's own settings go through `ipaudit.settings.Settings.from_env` — the
very check the function repeats at start-up — and the deployment-only keys (schedules, time zone,
accounts and ARNs the templates embed) are checked here.
"""

from __future__ import annotations

import json
import re
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ipaudit.alerts.mutes import mutes_from_file
from ipaudit.errors import InputError
from ipaudit.settings import ACCOUNT_ID, DECLARED, ROLE_NAME, Settings, SettingsError

# Context key -> the function's environment variable it becomes (docs/settings.md). The table,
# the topic and (unless given) the Slack secret are created by the stack, so they have no key.
SETTING_KEYS: Mapping[str, str] = {
    d.context_key: d.variable for d in DECLARED if d.context_key and d.context_key != "mutes_file"
}
# Lambda allows 4 KB of environment in all; the mutes file must leave room for the rest.
MAX_MUTES_JSON = 2048

DEFAULT_AUDITOR_ROLE_NAME = "IpAuditAuditor"
ARCHITECTURES = ("arm64", "x86_64")
# The retentions CloudWatch Logs accepts, by their aws_logs.RetentionDays member names.
LOG_RETENTION_DAYS: Mapping[int, str] = {
    1: "ONE_DAY", 3: "THREE_DAYS", 5: "FIVE_DAYS", 7: "ONE_WEEK", 14: "TWO_WEEKS",
    30: "ONE_MONTH", 60: "TWO_MONTHS", 90: "THREE_MONTHS", 120: "FOUR_MONTHS",
    150: "FIVE_MONTHS", 180: "SIX_MONTHS", 365: "ONE_YEAR", 400: "THIRTEEN_MONTHS",
    545: "EIGHTEEN_MONTHS", 731: "TWO_YEARS", 1096: "THREE_YEARS", 1827: "FIVE_YEARS",
    2192: "SIX_YEARS", 2557: "SEVEN_YEARS", 2922: "EIGHT_YEARS", 3288: "NINE_YEARS",
    3653: "TEN_YEARS",
}  # fmt: skip

# A batch of targets is one audit invocation: docs/deploy.md sizes it from the per-target CPU.
DEFAULT_FAN_OUT_BATCH_SIZE = 10
DEFAULT_FAN_OUT_MAX_CONCURRENCY = 10
MAX_FAN_OUT_BATCH_SIZE = 1000
# Distributed Map allows up to 10,000 child workflows at once; the members' API rate limits and
# the Lambda account concurrency are the real bound.
MAX_FAN_OUT_CONCURRENCY = 1000

_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_CRON_FIELD = re.compile(r"^[\w*?,/#L-]+$")
_SUBNET_ID = re.compile(r"^subnet-[0-9a-f]{8,17}$")
_SECURITY_GROUP_ID = re.compile(r"^sg-[0-9a-f]{8,17}$")


class ContextError(InputError):
    """A CDK context value is malformed; the message is one line naming the context key."""


@dataclass(frozen=True)
class DeployConfig:
    """Everything the two stacks need to know, validated."""

    settings_env: Mapping[str, str]  # IPAUDIT_* variables taken from context, unset ones omitted
    settings: Settings
    audit_schedule: str
    digest_schedule: str
    digest_time_zone: str
    auditor_account: str | None  # None: the member role trusts an auditor in its own account
    auditor_role_name: str
    architecture: str
    log_retention_days: int
    audit_memory_mb: int
    audit_timeout_minutes: int
    vpc_subnet_ids: tuple[str, ...]
    vpc_security_group_ids: tuple[str, ...]
    # The Step Functions fan-out (docs/deploy.md) instead of the single audit function.
    fan_out: bool = False
    fan_out_batch_size: int = DEFAULT_FAN_OUT_BATCH_SIZE  # targets per Map batch (invocation)
    fan_out_max_concurrency: int = DEFAULT_FAN_OUT_MAX_CONCURRENCY  # batches at once

    @classmethod
    def from_context(cls, context: Callable[[str], Any]) -> DeployConfig:
        """Read every key through `context` (e.g. `app.node.try_get_context`) and validate it."""

        def text(key: str) -> str:
            return _as_text(key, context(key))

        settings_env = {env: value for key, env in SETTING_KEYS.items() if (value := text(key))}
        mutes_file = text("mutes_file")
        if mutes_file:
            settings_env["IPAUDIT_MUTES"] = _mutes_json(mutes_file)
        try:
            settings = Settings.from_env(settings_env)
        except SettingsError as error:
            raise ContextError(_name_context_key(str(error))) from None

        auditor_account = text("auditor_account") or None
        if auditor_account is not None and not ACCOUNT_ID.match(auditor_account):
            raise ContextError(
                f"context 'auditor_account': {auditor_account!r} is not a 12-digit account id"
            )
        auditor_role_name = text("auditor_role_name") or DEFAULT_AUDITOR_ROLE_NAME
        if not ROLE_NAME.match(auditor_role_name):
            raise ContextError(
                f"context 'auditor_role_name': {auditor_role_name!r} is not a valid IAM role name"
            )
        architecture = text("architecture") or "arm64"
        if architecture not in ARCHITECTURES:
            raise ContextError(
                f"context 'architecture': {architecture!r} is not one of {', '.join(ARCHITECTURES)}"
            )
        retention_raw = text("log_retention_days") or "90"
        if not retention_raw.isdigit() or int(retention_raw) not in LOG_RETENTION_DAYS:
            raise ContextError(
                f"context 'log_retention_days': {retention_raw!r} is not a CloudWatch Logs "
                f"retention ({', '.join(map(str, LOG_RETENTION_DAYS))})"
            )
        memory = _integer("audit_memory_mb", text("audit_memory_mb") or "2048", 128, 10240)
        timeout = _integer("audit_timeout_minutes", text("audit_timeout_minutes") or "15", 1, 15)
        subnets = _ids("vpc_subnet_ids", text("vpc_subnet_ids"), _SUBNET_ID, "subnet id")
        groups = _ids(
            "vpc_security_group_ids", text("vpc_security_group_ids"), _SECURITY_GROUP_ID, "sg id"
        )
        if bool(subnets) != bool(groups):
            raise ContextError(
                "context 'vpc_subnet_ids' and 'vpc_security_group_ids': give both or neither"
            )
        batch_size = _integer(
            "fan_out_batch_size",
            text("fan_out_batch_size") or str(DEFAULT_FAN_OUT_BATCH_SIZE),
            1,
            MAX_FAN_OUT_BATCH_SIZE,
        )
        concurrency = _integer(
            "fan_out_max_concurrency",
            text("fan_out_max_concurrency") or str(DEFAULT_FAN_OUT_MAX_CONCURRENCY),
            1,
            MAX_FAN_OUT_CONCURRENCY,
        )
        return cls(
            settings_env=settings_env,
            settings=settings,
            audit_schedule=_schedule("audit_schedule", text("audit_schedule") or "rate(1 hour)"),
            digest_schedule=_schedule(
                "digest_schedule", text("digest_schedule") or "cron(0 8 ? * MON *)"
            ),
            digest_time_zone=_time_zone("digest_time_zone", text("digest_time_zone") or "UTC"),
            auditor_account=auditor_account,
            auditor_role_name=auditor_role_name,
            architecture=architecture,
            log_retention_days=int(retention_raw),
            audit_memory_mb=memory,
            audit_timeout_minutes=timeout,
            vpc_subnet_ids=subnets,
            vpc_security_group_ids=groups,
            fan_out=_flag("fan_out", context("fan_out")),
            fan_out_batch_size=batch_size,
            fan_out_max_concurrency=concurrency,
        )


def _mutes_json(path: str) -> str:
    """The mutes file, checked as the function will read it, as compact JSON for IPAUDIT_MUTES."""
    name = f"context 'mutes_file': {path}"
    try:
        entries = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise ContextError(f"{name}: cannot read it ({error.strerror})") from None
    except json.JSONDecodeError as error:
        raise ContextError(f"{name}: not JSON ({error.msg}, line {error.lineno})") from None
    try:
        mutes_from_file(entries, name)
    except InputError as error:
        raise ContextError(str(error)) from None
    compact = json.dumps(entries, separators=(",", ":"), ensure_ascii=False)
    if len(compact.encode()) > MAX_MUTES_JSON:
        raise ContextError(
            f"{name}: {len(compact.encode())} bytes as JSON, above the {MAX_MUTES_JSON} a "
            "Lambda environment leaves for it; use patterns, or `ipaudit mute` (the table)"
        )
    return compact


def _as_text(key: str, value: Any) -> str:
    # `-c key=value` gives strings; cdk.json may hold numbers or lists as well.
    if value is None:
        return ""
    if isinstance(value, bool):
        raise ContextError(f"context {key!r}: {value!r} is not a string")
    if isinstance(value, str | int | float):
        return str(value).strip()
    if isinstance(value, list) and all(isinstance(item, str | int) for item in value):
        return ",".join(str(item).strip() for item in value)
    raise ContextError(f"context {key!r}: {value!r} is not a string, number or list of strings")


def _flag(key: str, value: Any) -> bool:
    """A JSON boolean from cdk.json, or `-c key=true|false` (any case) from the command line."""
    if value is None or isinstance(value, bool):
        return bool(value)
    text = str(value).strip().lower() if isinstance(value, str) else None
    if text in ("true", "false", ""):
        return text == "true"
    raise ContextError(f"context {key!r}: {value!r} is not true or false")


def _name_context_key(message: str) -> str:
    """Turn a SettingsError's "IPAUDIT_X: ..." into "context 'x' (IPAUDIT_X): ..."."""
    env, sep, rest = message.partition(":")
    key = next((key for key, name in SETTING_KEYS.items() if name == env), None)
    if key is None or not sep:
        return f"context: {message}"
    return f"context {key!r} ({env}):{rest}"


def _integer(key: str, raw: str, low: int, high: int) -> int:
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ContextError(f"context {key!r}: {raw!r} is not a whole number from {low} to {high}")
    return int(raw)


def _ids(key: str, raw: str, pattern: re.Pattern[str], what: str) -> tuple[str, ...]:
    ids = tuple(part.strip() for part in raw.split(",") if part.strip())
    for item in ids:
        if not pattern.match(item):
            raise ContextError(f"context {key!r}: {item!r} is not a {what}")
    return ids


def _schedule(key: str, expression: str) -> str:
    """Check an EventBridge Scheduler `rate(...)` or six-field `cron(...)` expression."""
    rate = _RATE.match(expression)
    if rate:
        value, unit = int(rate.group(1)), rate.group(2)
        if value < 1 or (value == 1) != (not unit.endswith("s")):
            raise ContextError(
                f"context {key!r}: {expression!r} needs a positive value and a singular unit "
                "only for 1, e.g. 'rate(1 hour)' or 'rate(30 minutes)'"
            )
        return expression
    if expression.startswith("cron(") and expression.endswith(")"):
        fields = expression[5:-1].split()
        if len(fields) != 6 or not all(_CRON_FIELD.match(field) for field in fields):
            raise ContextError(
                f"context {key!r}: {expression!r} needs six fields: "
                "minutes hours day-of-month month day-of-week year"
            )
        if (fields[2] == "?") == (fields[4] == "?"):
            raise ContextError(
                f"context {key!r}: {expression!r} must have '?' in exactly one of "
                "day-of-month and day-of-week"
            )
        return expression
    raise ContextError(
        f"context {key!r}: {expression!r} is not 'rate(N unit)' or 'cron(m h dom mon dow y)'"
    )


def _time_zone(key: str, name: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ContextError(
            f"context {key!r}: {name!r} is not an IANA time zone like 'Europe/Berlin'"
        ) from None
    return name
