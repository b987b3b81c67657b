"""Flags shared by the commands that read settings or talk to AWS.

Every setting is an environment variable (docs/design.md); a flag, when given, overrides it.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from ipaudit.errors import InputError
from ipaudit.settings import DECLARED, Settings, check_region

if TYPE_CHECKING:
    import boto3

# flag -> environment variable
# Each setting's flag, from its one declaration (settings.DECLARED).
SETTING_FLAGS: dict[str, str] = {d.flag: d.variable for d in DECLARED if d.flag}


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


def session_from(args: argparse.Namespace, env: Mapping[str, str] = os.environ) -> boto3.Session:
    """The session the command's flags and the environment name; a profile that does not exist
    or a region AWS does not have is one line naming where it came from."""
    import boto3  # here, not at the top: `ipaudit --help` never loads it
    from botocore.exceptions import BotoCoreError, ProfileNotFound

    try:
        session = boto3.Session(profile_name=args.profile, region_name=args.region)
    except ProfileNotFound as error:
        raise InputError(missing_profile(args.profile, error.kwargs["profile"], env)) from None
    except BotoCoreError as error:
        raise InputError(f"AWS session: {error}") from None
    if session.region_name:
        check_region(_region_source(args, session.region_name, env), session.region_name)
    return session


def missing_profile(flag: str | None, profile: str, env: Mapping[str, str]) -> str:
    """What to do about a profile in no AWS configuration file, naming who asked for it."""
    # botocore reads AWS_DEFAULT_PROFILE before AWS_PROFILE.
    asked_by = (
        "--profile"
        if flag
        else next(
            (v for v in ("AWS_DEFAULT_PROFILE", "AWS_PROFILE") if env.get(v) == profile),
            "AWS_PROFILE",
        )
    )
    config = env.get("AWS_CONFIG_FILE") or "~/.aws/config"
    credentials = env.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials"
    return (
        f"{asked_by}: the AWS profile {profile!r} is not in {config} (nor {credentials}): "
        f"create it (aws configure --profile {profile}, or aws configure sso) or name another"
    )


def _region_source(args: argparse.Namespace, region: str, env: Mapping[str, str]) -> str:
    if args.region:
        return "--region"
    if env.get("AWS_DEFAULT_REGION") == region:
        return "AWS_DEFAULT_REGION"
    return "the AWS profile's region"


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
