"""Bad context fails synthesis with one line naming the key, before any resource exists."""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match
from cdk_harness import Synth, cdk_json_context

from infra.app import build
from infra.config import ContextError

BAD_CONTEXT = [
    ("accounts", "12345", "context 'accounts' (IPAUDIT_ACCOUNTS): '12345' is not a 12-digit"),
    ("regions", "Europe", "context 'regions' (IPAUDIT_REGIONS): 'Europe' is not a region"),
    ("role_name", "bad role", "context 'role_name' (IPAUDIT_ROLE_NAME):"),
    ("email_from", "ipaudit", "context 'email_from' (IPAUDIT_EMAIL_FROM): 'ipaudit' is not an"),
    ("email_to", "a@example.com,b", "context 'email_to' (IPAUDIT_EMAIL_TO): 'b' is not an e-mail"),
    ("warn_free_pct", "120", "context 'warn_free_pct' (IPAUDIT_WARN_FREE_PCT):"),
    ("crit_free_pct", "40", "context 'crit_free_pct' (IPAUDIT_CRIT_FREE_PCT): 40 is above"),
    ("renotify_hours", "0", "context 'renotify_hours' (IPAUDIT_RENOTIFY_HOURS):"),
    ("kube_endpoints", "prod=http://10.0.0.1", "context 'kube_endpoints' (IPAUDIT_KUBE_ENDPOINTS)"),
    (
        "slack_secret_arn",
        "arn:aws:sns:eu-west-1:111111111111:topic",
        "context 'slack_secret_arn' (IPAUDIT_SLACK_SECRET_ARN): 'arn:aws:sns:eu-west-1:111111111111"
        ":topic' is not an secretsmanager ARN",
    ),
    ("external_id", "x", "context 'external_id' (IPAUDIT_EXTERNAL_ID): not 2-1224 characters"),
    ("auditor_account", "1234", "context 'auditor_account': '1234' is not a 12-digit account id"),
    ("auditor_role_name", "a/b", "context 'auditor_role_name': 'a/b' is not a valid IAM role"),
    ("audit_schedule", "hourly", "context 'audit_schedule': 'hourly' is not 'rate(N unit)'"),
    ("audit_schedule", "rate(1 hours)", "context 'audit_schedule': 'rate(1 hours)' needs"),
    ("audit_schedule", "rate(0 minutes)", "context 'audit_schedule': 'rate(0 minutes)' needs"),
    ("digest_schedule", "cron(0 8 * * MON)", "'cron(0 8 * * MON)' needs six fields"),
    ("digest_schedule", "cron(0 8 * * MON *)", "must have '?' in exactly one of day-of-month"),
    ("digest_time_zone", "Mars/Olympus", "context 'digest_time_zone': 'Mars/Olympus' is not"),
    ("architecture", "sparc", "context 'architecture': 'sparc' is not one of arm64, x86_64"),
    ("log_retention_days", "10", "context 'log_retention_days': '10' is not a CloudWatch Logs"),
    ("audit_memory_mb", "64", "context 'audit_memory_mb': '64' is not a whole number from 128"),
    ("audit_timeout_minutes", "30", "context 'audit_timeout_minutes': '30' is not a whole number"),
    ("vpc_subnet_ids", "vpc-123", "context 'vpc_subnet_ids': 'vpc-123' is not a subnet id"),
    ("vpc_subnet_ids", "subnet-0123456789abcdef0", "give both or neither"),
    ("email_to", True, "context 'email_to': True is not a string"),
    ("security_hub", "maybe", "context 'security_hub' (IPAUDIT_SECURITY_HUB): 'maybe' is not"),
    ("mutes_file", "no/such/mutes.json", "context 'mutes_file': no/such/mutes.json: cannot read"),
    ("fan_out", "yes", "context 'fan_out': 'yes' is not true or false"),
    ("fan_out", 1, "context 'fan_out': 1 is not true or false"),
    ("fan_out_batch_size", "0", "context 'fan_out_batch_size': '0' is not a whole number from 1"),
    ("fan_out_batch_size", "ten", "context 'fan_out_batch_size': 'ten' is not a whole number"),
    (
        "fan_out_max_concurrency",
        "5000",
        "context 'fan_out_max_concurrency': '5000' is not a whole number from 1 to 1000",
    ),
]


@pytest.mark.parametrize(("key", "value", "message"), BAD_CONTEXT)
def test_a_bad_value_names_its_context_key(key: str, value: object, message: str) -> None:
    app = cdk.App(context={**cdk_json_context(), key: value})
    with pytest.raises(ContextError) as raised:
        build(app)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)
    assert app.node.children == []  # nothing was built


def test_cdk_json_values_may_be_numbers_and_lists(synth: Synth) -> None:
    auditor = synth(
        accounts=["111111111111", "222222222222"], warn_free_pct=30, renotify_hours=1.5
    ).auditor
    expected = {
        "IPAUDIT_ACCOUNTS": "111111111111,222222222222",
        "IPAUDIT_WARN_FREE_PCT": "30",
        "IPAUDIT_RENOTIFY_HOURS": "1.5",
    }
    auditor.has_resource_properties(
        "AWS::Lambda::Function",
        {"Environment": {"Variables": Match.object_like(expected)}},
    )


def test_organization_and_cron_with_time_zone_are_accepted(synth: Synth) -> None:
    auditor = synth(
        accounts="organization",
        audit_schedule="cron(0/15 * * * ? *)",
        digest_schedule="cron(30 7 ? * MON-FRI *)",
        digest_time_zone="America/New_York",
    ).auditor
    auditor.has_resource_properties(
        "AWS::Lambda::Function",
        {"Environment": {"Variables": Match.object_like({"IPAUDIT_ACCOUNTS": "organization"})}},
    )
    auditor.has_resource_properties(
        "AWS::Scheduler::Schedule",
        {
            "ScheduleExpression": "cron(30 7 ? * MON-FRI *)",
            "ScheduleExpressionTimezone": "America/New_York",
        },
    )


MUTES = [
    {
        "finding_id": "subnet_headroom:111111111111:eu-west-1:prod:subnet-0abc",
        "reason": "dedicated /28 for the control plane",
        "expires": "2027-03-31",
        "by": "platform-team",
    },
    {"cluster": "legacy-*", "reason": "decommissioning", "expires": "2026-12-31T00:00:00Z"},
]


def test_a_mutes_file_reaches_the_functions_as_ipaudit_mutes(synth: Synth, tmp_path: Path) -> None:
    path = tmp_path / "mutes.json"
    path.write_text(json.dumps(MUTES, indent=2))
    auditor = synth(mutes_file=str(path)).auditor
    functions = auditor.find_resources("AWS::Lambda::Function")
    passed = {
        name: f["Properties"]["Environment"]["Variables"].get("IPAUDIT_MUTES")
        for name, f in functions.items()
    }
    assert passed and all(value is not None for value in passed.values())
    assert all(json.loads(value) == MUTES for value in passed.values())


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[{", "not JSON"),
        (
            json.dumps([{"cluster": "a", "reason": "x"}]),
            "[0].expires: missing",
        ),
        (json.dumps([{"cluster": "*", "reason": "x", "expires": "2027-01-01"}]), "every finding"),
        (
            json.dumps([{"cluster": "c", "reason": "r" * 200, "expires": "2027-01-01"}] * 20),
            "above the 2048 a Lambda environment leaves for it",
        ),
    ],
)
def test_a_bad_mutes_file_fails_synthesis_naming_the_key_and_entry(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "mutes.json"
    path.write_text(content)
    app = cdk.App(context={**cdk_json_context(), "mutes_file": str(path)})
    with pytest.raises(ContextError) as raised:
        build(app)
    assert str(raised.value).startswith(f"context 'mutes_file': {path}")
    assert message in str(raised.value) and "\n" not in str(raised.value)
    assert app.node.children == []
