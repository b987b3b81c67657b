"""Bad input to `ipaudit`: one line naming what is wrong, nothing half-done; exit 2 for a
command line argparse cannot parse, exit 1 for a bad setting or anything else."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def ipaudit(*args: str, **env_extra: str) -> subprocess.CompletedProcess[str]:
    """`ipaudit ARGS` on a machine with no AWS profile, credentials or instance metadata."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "IPAUDIT_"))}
    env["AWS_CONFIG_FILE"] = env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    # No instance metadata to fall back on: a credential lookup must fail fast, not hang.
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    env.update(env_extra)
    return subprocess.run(
        [sys.executable, "-m", "ipaudit", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--regions", "europe"], "IPAUDIT_REGIONS: 'europe' is not a region name"),
        (["--accounts", "1234"], "IPAUDIT_ACCOUNTS: '1234' is not a 12-digit account id"),
        (["--kube-endpoints", "prod=nowhere"], "IPAUDIT_KUBE_ENDPOINTS: 'nowhere' for 'prod'"),
        (["--profile", "no-such-profile"], "--profile: no AWS profile named 'no-such-profile'"),
    ],
)
def test_bad_settings_stop_the_audit_with_one_line_and_exit_1(
    args: list[str], expected: str
) -> None:
    done = ipaudit("audit", *args)
    assert done.returncode == 1
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.startswith("ipaudit: error: ") and expected in line


def test_a_bad_environment_variable_is_named_like_a_bad_flag() -> None:
    done = ipaudit("audit", IPAUDIT_WARN_FREE_PCT="lots")
    assert done.returncode == 1
    assert done.stderr.strip() == "ipaudit: error: IPAUDIT_WARN_FREE_PCT: 'lots' is not a number"


@pytest.mark.parametrize(
    ("env_extra", "expected"),
    [
        ({}, "AWS region: none set (use --region or AWS_REGION)"),
        ({"AWS_DEFAULT_REGION": "eu-west-1"}, "AWS credentials: none found"),
    ],
)
def test_a_command_needing_aws_without_a_region_or_credentials_says_so_in_one_line(
    env_extra: dict[str, str], expected: str
) -> None:
    done = ipaudit("max-pods", "m5.large", **env_extra)
    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert line.startswith(f"ipaudit: error: {expected}")


def test_a_bad_flag_is_one_line_and_exit_2_as_argparse_gives() -> None:
    done = ipaudit("audit", "--fail-on", "sometimes")
    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert line.startswith("ipaudit audit: error: argument --fail-on: invalid choice")


@pytest.mark.parametrize("output", ["yaml", "JSON"])
def test_an_unknown_output_format_is_a_usage_error(output: str) -> None:
    done = ipaudit("audit", "--output", output)
    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert "argument --output: invalid choice" in line and "'csv'" in line


HOOK = "https://hooks.slack.com/services/T000/B000/hush-hush-token"


@pytest.mark.parametrize(
    "args",
    [
        ["--slack-webhook-url", HOOK],
        [f"--slack-webhook-url={HOOK}"],
        ["--slack-webhook", HOOK],  # argparse would expand the abbreviation
        ["--slack-webhook-url"],
    ],
)
def test_the_slack_webhook_is_refused_on_the_command_line_and_never_echoed(
    args: list[str],
) -> None:
    # On a command line it would sit in shell history and `ps`: environment or secret only.
    done = ipaudit("audit", *args)
    assert done.returncode == 2
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.startswith("ipaudit audit: error: --slack-webhook-url: not accepted")
    assert "IPAUDIT_SLACK_WEBHOOK_URL" in line and "IPAUDIT_SLACK_SECRET_ARN" in line
    assert "hush-hush" not in done.stderr


def test_a_mistyped_flag_never_echoes_a_url_it_was_given() -> None:
    done = ipaudit("audit", "--slack", HOOK)  # ambiguous: --slack-secret-arn or the refused one
    assert done.returncode == 2
    assert "hush-hush" not in done.stderr
