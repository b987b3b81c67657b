"""The one validated settings object, read from the environment (docs/design.md, "Contracts").

Every problem becomes a `SettingsError` whose message is one line naming the variable, so the
CLI and the Lambda handler can stop before anything is written.
"""

from __future__ import annotations

import difflib
import functools
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlparse

from ipaudit.alerts.mutes import Mute, mutes_from_file
from ipaudit.errors import InputError
from ipaudit.loopback import is_loopback

ORGANIZATION = "organization"
DEFAULT_ROLE_NAME = "IpAuditReadOnly"

ACCOUNT_ID = re.compile(r"^\d{12}$")
# The shape of every partition's names: us-east-1, us-gov-west-1, cn-north-1, eusc-de-east-1...
_REGION = re.compile(r"^[a-z]{2,4}(-[a-z]+)+-\d{1,2}$")
ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")
# sts:AssumeRole's ExternalId: 2 to 1224 characters of these.
EXTERNAL_ID = re.compile(r"^[\w+=,.@:/-]{2,1224}$")
MAX_RENOTIFY_HOURS = 24 * 365
_ARN = re.compile(r"^arn:aws[\w-]*:([\w-]+):([\w-]*):(\d{12})?:.+$")
_EMAIL = re.compile(r"^[^@\s,]+@[^@\s,]+\.[^@\s,]+$")


class SettingsError(InputError):
    """A setting is missing or malformed; the message is one line naming it."""


@dataclass(frozen=True)
class Declared:
    """One setting, declared once: the validator below, the CLI's flags (cli/options.py), the
    CDK context keys (infra/config.py) and the settings reference (docs/settings.md, made by
    `settings_table`) all come from this list."""

    variable: str  # the environment variable the Lambda and the CLI read
    flag: str | None  # the CLI flag (None: environment only)
    context_key: str | None  # the CDK context key (None: the stack makes it, or none)
    default: str  # in words, as the reference shows it
    meaning: str  # one line for the reference


DECLARED: tuple[Declared, ...] = (
    Declared("IPAUDIT_ACCOUNTS", "--accounts", "accounts", "the caller's own account",
             "`organization` (every ACTIVE account, the caller's included), or comma-separated "
             "12-digit account ids"),
    Declared("IPAUDIT_REGIONS", "--regions", "regions", "the session's region",
             "comma-separated regions"),
    Declared("IPAUDIT_ROLE_NAME", "--role-name", "role_name", f"`{DEFAULT_ROLE_NAME}`",
             "role assumed in every account other than the caller's own (both stacks use it)"),
    Declared("IPAUDIT_EXTERNAL_ID", "--external-id", "external_id", "none",
             "optional sts ExternalId (2-1224 characters of letters, digits and `_+=,.@:/-`), "
             "required by the member role when set"),
    Declared("IPAUDIT_KUBE_ENDPOINTS", "--kube-endpoints", "kube_endpoints", "none",
             "`cluster=url,...` overrides the API endpoint from DescribeCluster (a cluster name "
             "or ARN as key; `http://` only for loopback)"),
    Declared("IPAUDIT_TABLE", "--table", None, "none: nothing stored",
             "DynamoDB table for history and alert state (the stack makes its own)"),
    Declared("IPAUDIT_SNS_TOPIC_ARN", "--sns-topic-arn", None, "none: SNS off",
             "SNS topic for warnings (the stack makes its own)"),
    Declared("IPAUDIT_SLACK_WEBHOOK_URL", None, None, "none",
             "Slack incoming webhook, literal (local use; `https://`, or `http://` on loopback); "
             "a secret: environment only, never a flag"),
    Declared("IPAUDIT_SLACK_SECRET_ARN", "--slack-secret-arn", "slack_secret_arn",
             "none (the stack makes a secret)",
             "a Secrets Manager secret holding the webhook URL (plain, or JSON `webhook_url`)"),
    Declared("IPAUDIT_EMAIL_FROM", "--email-from", "email_from", "none: no digest mail",
             "the weekly digest's sender, an SES-verified address or domain"),
    Declared("IPAUDIT_EMAIL_TO", "--email-to", "email_to", "none",
             "the weekly digest's comma-separated recipients"),
    Declared("IPAUDIT_WARN_FREE_PCT", "--warn-free-pct", "warn_free_pct", "25",
             "subnet free-address warning threshold (percent)"),
    Declared("IPAUDIT_CRIT_FREE_PCT", "--crit-free-pct", "crit_free_pct", "10",
             "subnet free-address critical threshold (percent, at most the warning one)"),
    Declared("IPAUDIT_RENOTIFY_HOURS", "--renotify-hours", "renotify_hours", "24",
             "repeat an unchanged open alert after this long (hours, above 0, at most 8760)"),
    Declared("IPAUDIT_MUTES", None, "mutes_file", "none",
             "mutes kept in git, as a JSON list (CDK: `mutes_file`, a file it reads and checks; "
             "docs/operating.md \"Muting a finding\")"),
    Declared("IPAUDIT_SECURITY_HUB", "--security-hub", "security_hub", "`false`",
             "`true`: import findings into Security Hub (docs/operating.md \"Security Hub\")"),
)  # fmt: skip
# The defaults the validator applies, the same figures as `DECLARED` shows.
DEFAULT_WARN_FREE_PCT = 25.0
DEFAULT_CRIT_FREE_PCT = 10.0
DEFAULT_RENOTIFY_HOURS = 24.0


def settings_table() -> str:
    """The settings reference's table (docs/settings.md), one row per declared setting."""
    rows = [
        "| variable | flag | CDK context key | default | meaning |",
        "|---|---|---|---|---|",
    ]
    for d in DECLARED:
        flag = f"`{d.flag}`" if d.flag else "—"
        key = f"`{d.context_key}`" if d.context_key else "—"
        rows.append(f"| `{d.variable}` | {flag} | {key} | {d.default} | {d.meaning} |")
    return "\n".join(rows) + "\n"


@dataclass(frozen=True)
class Settings:
    accounts: tuple[str, ...] | None = None  # None: the caller's own account
    organization: bool = False  # every ACTIVE account of the organization
    regions: tuple[str, ...] | None = None  # None: the session's region
    role_name: str = DEFAULT_ROLE_NAME
    external_id: str | None = None
    kube_endpoints: Mapping[str, str] = field(default_factory=dict)
    table: str | None = None
    sns_topic_arn: str | None = None
    slack_webhook_url: str | None = field(default=None, repr=False)  # a secret: never printed
    slack_secret_arn: str | None = None
    email_from: str | None = None
    email_to: tuple[str, ...] = ()
    warn_free_pct: float = DEFAULT_WARN_FREE_PCT
    crit_free_pct: float = DEFAULT_CRIT_FREE_PCT
    renotify_hours: float = DEFAULT_RENOTIFY_HOURS
    mutes: tuple[Mute, ...] = ()  # kept in git: the CDK context's mutes file
    security_hub: bool = False  # import findings into Security Hub

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Read and validate every IPAUDIT_* variable; empty values count as unset."""

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        accounts_raw = get("IPAUDIT_ACCOUNTS")
        organization = accounts_raw is not None and accounts_raw.lower() == ORGANIZATION
        accounts = None if organization or accounts_raw is None else _accounts(accounts_raw)
        regions_raw = get("IPAUDIT_REGIONS")
        warn = _percent(
            "IPAUDIT_WARN_FREE_PCT", get("IPAUDIT_WARN_FREE_PCT"), DEFAULT_WARN_FREE_PCT
        )
        crit = _percent(
            "IPAUDIT_CRIT_FREE_PCT", get("IPAUDIT_CRIT_FREE_PCT"), DEFAULT_CRIT_FREE_PCT
        )
        if crit > warn:
            raise SettingsError(
                f"IPAUDIT_CRIT_FREE_PCT: {crit:g} is above IPAUDIT_WARN_FREE_PCT ({warn:g})"
            )
        role = get("IPAUDIT_ROLE_NAME") or DEFAULT_ROLE_NAME
        if not ROLE_NAME.match(role):
            raise SettingsError(f"IPAUDIT_ROLE_NAME: {role!r} is not a valid IAM role name")
        topic = get("IPAUDIT_SNS_TOPIC_ARN")
        if topic is not None:
            _arn("IPAUDIT_SNS_TOPIC_ARN", topic, service="sns")
        secret_arn = get("IPAUDIT_SLACK_SECRET_ARN")
        if secret_arn is not None:
            _arn("IPAUDIT_SLACK_SECRET_ARN", secret_arn, service="secretsmanager")
        webhook = get("IPAUDIT_SLACK_WEBHOOK_URL")
        if webhook is not None:
            _webhook(webhook)
        email_from = get("IPAUDIT_EMAIL_FROM")
        if email_from is not None:
            _email("IPAUDIT_EMAIL_FROM", email_from)
        email_to = tuple(_split(get("IPAUDIT_EMAIL_TO") or ""))
        for address in email_to:
            _email("IPAUDIT_EMAIL_TO", address)
        table = get("IPAUDIT_TABLE")
        if table is not None and not re.match(r"^[\w.-]{3,255}$", table):
            raise SettingsError(f"IPAUDIT_TABLE: {table!r} is not a valid DynamoDB table name")
        return cls(
            accounts=accounts,
            organization=organization,
            regions=None if regions_raw is None else _regions(regions_raw),
            role_name=role,
            external_id=_external_id(get("IPAUDIT_EXTERNAL_ID")),
            kube_endpoints=_kube_endpoints(get("IPAUDIT_KUBE_ENDPOINTS") or ""),
            table=table,
            sns_topic_arn=topic,
            slack_webhook_url=webhook,
            slack_secret_arn=secret_arn,
            email_from=email_from,
            email_to=email_to,
            warn_free_pct=warn,
            crit_free_pct=crit,
            renotify_hours=_hours(
                "IPAUDIT_RENOTIFY_HOURS", get("IPAUDIT_RENOTIFY_HOURS"), DEFAULT_RENOTIFY_HOURS
            ),
            mutes=_mutes(get("IPAUDIT_MUTES")),
            security_hub=_flag("IPAUDIT_SECURITY_HUB", get("IPAUDIT_SECURITY_HUB")),
        )

    def kube_endpoint(self, cluster_name: str, cluster_arn: str) -> str | None:
        """The overridden API endpoint for a cluster, keyed by its name or ARN."""
        return self.kube_endpoints.get(cluster_arn) or self.kube_endpoints.get(cluster_name)


def _split(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


def _accounts(raw: str) -> tuple[str, ...]:
    accounts = _split(raw)
    if not accounts:
        raise SettingsError(
            f"IPAUDIT_ACCOUNTS: {raw!r} names no account (give 12-digit ids or '{ORGANIZATION}')"
        )
    for account in accounts:
        if not ACCOUNT_ID.match(account):
            raise SettingsError(
                f"IPAUDIT_ACCOUNTS: {account!r} is not a 12-digit account id "
                f"(or use '{ORGANIZATION}')"
            )
    return tuple(dict.fromkeys(accounts))


def _regions(raw: str) -> tuple[str, ...]:
    regions = _split(raw)
    if not regions:
        raise SettingsError("IPAUDIT_REGIONS: no region given")
    for region in regions:
        check_region("IPAUDIT_REGIONS", region)
    return tuple(dict.fromkeys(regions))


def check_region(name: str, region: str) -> str:
    """`region` when AWS has a region of that name; else one line naming the setting `name`.

    A typo such as `eu-wst-1` has the right shape and would only fail later, target by target,
    as an endpoint that does not resolve: it is refused here, before anything is called.
    """
    if not _REGION.match(region):
        raise SettingsError(f"{name}: {region!r} is not a region name like 'eu-west-1'")
    known, version = known_regions()
    if region not in known:
        near = difflib.get_close_matches(region, sorted(known), n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        raise SettingsError(
            f"{name}: {region!r} is not an AWS region{hint}; "
            f"a region newer than botocore {version} needs a newer boto3"
        )
    return region


@functools.cache
def known_regions() -> tuple[frozenset[str], str]:
    """Every region of every partition as botocore's endpoint data lists them, and botocore's
    version: AWS's own list, updated with each release, rather than one kept here."""
    # Imported only once a region is named: a command that names none stays free of botocore.
    import botocore
    import botocore.loaders
    import botocore.regions

    # The resolver a botocore session uses, without the session: that would read the profile
    # (AWS_PROFILE), which has nothing to say about which regions exist.
    resolver = botocore.regions.EndpointResolver(
        botocore.loaders.create_loader().load_data("endpoints")
    )
    names = frozenset(
        region
        for partition in resolver.get_available_partitions()
        for region in resolver.get_available_endpoints("ec2", partition)
    )
    return names, str(botocore.__version__)


def _kube_endpoints(raw: str) -> dict[str, str]:
    endpoints: dict[str, str] = {}
    for item in _split(raw):
        key, sep, url = item.partition("=")
        key, url = key.strip(), url.strip()
        if not sep or not key or not url:
            raise SettingsError(
                f"IPAUDIT_KUBE_ENDPOINTS: {item!r} is not of the form cluster=https://host"
            )
        try:
            parsed = urlparse(url)
            host = parsed.hostname
        except ValueError:  # an unclosed IPv6 bracket, such as "https://[::1"
            raise SettingsError(
                f"IPAUDIT_KUBE_ENDPOINTS: {url!r} for {key!r} is not a URL"
            ) from None
        if parsed.scheme not in ("https", "http") or not host:
            raise SettingsError(f"IPAUDIT_KUBE_ENDPOINTS: {url!r} for {key!r} is not a URL")
        if parsed.scheme == "http" and not is_loopback(parsed.hostname):
            raise SettingsError(
                f"IPAUDIT_KUBE_ENDPOINTS: {url!r} for {key!r} uses http:// on a host that is "
                "not loopback; use https://"
            )
        endpoints[key] = url.rstrip("/")
    return endpoints


def _flag(name: str, raw: str | None) -> bool:
    if raw is None:
        return False
    value = raw.lower()
    if value not in ("true", "false"):
        raise SettingsError(f"{name}: {raw!r} is not true or false")
    return value == "true"


def _mutes(raw: str | None) -> tuple[Mute, ...]:
    if raw is None:
        return ()
    try:
        entries = json.loads(raw)
    except json.JSONDecodeError as error:
        raise SettingsError(f"IPAUDIT_MUTES: not JSON ({error.msg} at {error.pos})") from None
    except RecursionError:
        raise SettingsError("IPAUDIT_MUTES: nested too deeply to be a list of mutes") from None
    except ValueError:  # an integer of more than 4300 digits
        raise SettingsError("IPAUDIT_MUTES: holds a number too long to read") from None
    return tuple(mutes_from_file(entries, "IPAUDIT_MUTES"))


def _number(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}: {raw!r} is not a number") from None
    if not math.isfinite(value):
        raise SettingsError(f"{name}: {raw!r} is not a finite number")
    return value


def _percent(name: str, raw: str | None, default: float) -> float:
    if raw is None:
        return default
    value = _number(name, raw)
    if not 0 <= value <= 100:
        raise SettingsError(f"{name}: {raw!r} is not a percentage between 0 and 100")
    return value


def _hours(name: str, raw: str | None, default: float) -> float:
    if raw is None:
        return default
    value = _number(name, raw)
    if not 0 < value <= MAX_RENOTIFY_HOURS:
        raise SettingsError(f"{name}: {raw!r} must be above 0 and at most {MAX_RENOTIFY_HOURS}")
    return value


def _external_id(raw: str | None) -> str | None:
    if raw is not None and not EXTERNAL_ID.match(raw):
        raise SettingsError(
            "IPAUDIT_EXTERNAL_ID: not 2-1224 characters of letters, digits and _+=,.@:/-"
        )
    return raw


def _arn(name: str, value: str, *, service: str) -> None:
    match = _ARN.match(value)
    if not match or match.group(1) != service:
        raise SettingsError(f"{name}: {value!r} is not an {service} ARN")


def _webhook(value: str) -> None:
    if not webhook_allowed(value):
        # The URL is a secret: the message names the problem, never the value.
        raise SettingsError(
            "IPAUDIT_SLACK_WEBHOOK_URL: not an https:// URL (http:// is allowed only on loopback)"
        )


def webhook_allowed(value: str) -> bool:
    """https:// to a host, or http:// on loopback: the rule for a webhook URL from the setting
    and from the secret alike."""
    try:
        parsed = urlparse(value.strip())
        host = parsed.hostname
    except ValueError:  # an unclosed IPv6 bracket, such as "https://[::1"
        return False
    if not host:
        return False
    return parsed.scheme == "https" or (parsed.scheme == "http" and is_loopback(host))


def _email(name: str, value: str) -> None:
    if not _EMAIL.match(value):
        raise SettingsError(f"{name}: {value!r} is not an e-mail address")
