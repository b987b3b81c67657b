"""Flags shared by the commands that read settings or talk to AWS.

Every setting is an environment variable (docs/design.md); a flag, when given, overrides it.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable, Mapping

import boto3
from botocore.exceptions import BotoCoreError, ProfileNotFound

from ipaudit.errors import InputError
from ipaudit.settings import Settings

# flag -> environment variable
SETTING_FLAGS: dict[str, str] = {
    "--accounts": "IPAUDIT_ACCOUNTS",
    "--regions": "IPAUDIT_REGIONS",
    "--role-name": "IPAUDIT_ROLE_NAME",
    "--external-id": "IPAUDIT_EXTERNAL_ID",
    "--kube-endpoints": "IPAUDIT_KUBE_ENDPOINTS",
    "--table": "IPAUDIT_TABLE",
    "--sns-topic-arn": "IPAUDIT_SNS_TOPIC_ARN",
    "--slack-secret-arn": "IPAUDIT_SLACK_SECRET_ARN",
    "--email-from": "IPAUDIT_EMAIL_FROM",
    "--email-to": "IPAUDIT_EMAIL_TO",
    "--warn-free-pct": "IPAUDIT_WARN_FREE_PCT",
    "--crit-free-pct": "IPAUDIT_CRIT_FREE_PCT",
    "--renotify-hours": "IPAUDIT_RENOTIFY_HOURS",
    "--security-hub": "IPAUDIT_SECURITY_HUB",
}


def _dest(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


def add_aws_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", help="AWS named profile (default: the usual credential chain)")
    parser.add_argument("--region", help="AWS region for the session (default: the profile's)")


# Secrets that must never be typed on a command line, where shell history and `ps` keep them.
SECRET_FLAGS: dict[str, str] = {
    "--slack-webhook-url": "set IPAUDIT_SLACK_WEBHOOK_URL in the environment, or "
    "IPAUDIT_SLACK_SECRET_ARN (--slack-secret-arn) to read it from Secrets Manager",
}


class _RefuseSecret(argparse.Action):
    """Refuses the flag by name alone: argparse's own error would echo the secret back."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        flag = option_string or self.dest
        parser.error(f"{flag}: not accepted on the command line; {SECRET_FLAGS[flag]}")


def add_setting_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("settings (override the IPAUDIT_* environment variables)")
    for flag, variable in SETTING_FLAGS.items():
        group.add_argument(flag, dest=_dest(flag), metavar="VALUE", help=f"sets {variable}")
    for flag in SECRET_FLAGS:
        parser.add_argument(flag, nargs="?", action=_RefuseSecret, help=argparse.SUPPRESS)


def settings_from(args: argparse.Namespace, env: Mapping[str, str] = os.environ) -> Settings:
    merged = dict(env)
    for flag, variable in SETTING_FLAGS.items():
        value = getattr(args, _dest(flag), None)
        if value is not None:
            merged[variable] = value
    return Settings.from_env(merged)


def session_from(args: argparse.Namespace) -> boto3.Session:
    try:
        return boto3.Session(profile_name=args.profile, region_name=args.region)
    except ProfileNotFound:
        raise InputError(f"--profile: no AWS profile named {args.profile!r}") from None
    except BotoCoreError as error:
        raise InputError(f"AWS session: {error}") from None


def seconds_flag(low: float, high: float, *, low_allowed: bool) -> Callable[[str], float]:
    """An argparse `type` for a bounded number of seconds: out of bounds is a usage error."""
    bound = "at least" if low_allowed else "above"

    def seconds(raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{raw!r} is not a number of seconds") from None
        fits = low <= value if low_allowed else low < value
        if not math.isfinite(value) or not fits or value > high:
            raise argparse.ArgumentTypeError(
                f"{raw!r} must be {bound} {low:g} and at most {high:g}"
            )
        return value

    return seconds
