"""Bad input to `ipaudit`: one line naming what is wrong, nothing half-done; exit 2 for a
command line argparse cannot parse, exit 1 for a bad setting or anything else."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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
        (["--profile", "no-such-profile"], "--profile: the AWS profile 'no-such-profile' is not"),
        (["--regions", "eu-wst-1"], "IPAUDIT_REGIONS: 'eu-wst-1' is not an AWS region"),
        (["--region", "eu-wst-1"], "--region: 'eu-wst-1' is not an AWS region"),
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


def test_a_mistyped_region_is_refused_with_the_nearest_real_one_before_any_call() -> None:
    # No endpoint at all: a call would fail differently (no credentials, no such host).
    done = ipaudit("max-pods", "m5.large", AWS_DEFAULT_REGION="eu-wst-1")
    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert line.startswith(
        "ipaudit: error: AWS_DEFAULT_REGION: 'eu-wst-1' is not an AWS region "
        "(did you mean 'eu-west-1'?)"
    )


def test_a_profile_named_in_the_environment_is_named_with_the_files_it_is_missing_from() -> None:
    done = ipaudit("audit", AWS_PROFILE="fake")
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"ipaudit: error: AWS_PROFILE: the AWS profile 'fake' is not in {os.devnull} "
        f"(nor {os.devnull}): create it (aws configure --profile fake, or aws configure sso) "
        "or name another"
    )


NO_CREDENTIALS = (
    "ipaudit: error: AWS credentials: none found (use --profile or AWS_PROFILE with a profile "
    "of ~/.aws/config, `aws sso login`, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
)
FINDING = "subnet_headroom:111111111111:eu-west-1:prod:subnet-0abc"


@pytest.mark.parametrize(
    "args",
    [
        ["audit"],
        ["digest", "--table", "ipaudit"],
        ["mute", FINDING, "--for", "1d", "--reason", "full by design", "--table", "ipaudit"],
        ["mutes", "--table", "ipaudit"],
        ["unmute", FINDING, "--table", "ipaudit"],
        ["max-pods", "m5.large"],
        ["init-table", "--table", "ipaudit"],
        ["simulate", "SCENARIO"],
        ["get-token", "--cluster-name", "prod"],
    ],
    ids=lambda args: args[0],
)
def test_no_credentials_is_the_same_hint_on_every_command(args: list[str], tmp_path: Path) -> None:
    scenario = tmp_path / "node.json"
    scenario.write_text(json.dumps({"instance": {"type": "m5.large"}, "steps": [3]}))
    args = [str(scenario) if a == "SCENARIO" else a for a in args]

    done = ipaudit(*args, AWS_DEFAULT_REGION="eu-west-1")

    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.strip() == NO_CREDENTIALS


@pytest.mark.parametrize("flag", ["--help", "--version"])
def test_help_and_version_load_no_aws_or_kubernetes_client(flag: str) -> None:
    # -X importtime names every module the process imported, on stderr.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "IPAUDIT_"))}
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "ipaudit", flag],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    imported = {
        line.rsplit("|", 1)[-1].strip().split(".")[0]
        for line in done.stderr.splitlines()
        if line.startswith("import time:")
    }

    assert done.returncode == 0
    assert "ipaudit" in imported
    assert not imported & {"boto3", "botocore", "kubernetes", "requests", "urllib3"}


@pytest.mark.parametrize(
    ("env_extra", "expected"),
    [
        ({}, "AWS region: none set (use --region or AWS_DEFAULT_REGION, or a profile's region)"),
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


def test_settings_written_as_name_equals_value_get_the_json_they_need(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    report.write_text("{}")
    done = ipaudit("what-if", "--report", str(report), "--settings", "WARM_IP_TARGET=2")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip() == (
        "ipaudit: error: --settings: 'WARM_IP_TARGET=2' is neither a JSON object nor a file: "
        """give a JSON object, e.g. --settings '{"WARM_IP_TARGET": "2"}'"""
    )


def test_two_output_formats_at_once_are_refused() -> None:
    done = ipaudit("demo", "--output", "csv", "--json")
    assert done.returncode == 2 and done.stdout == ""
    assert "argument --json: not allowed with argument --output" in done.stderr
