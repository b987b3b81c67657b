"""Security Hub as a destination, against moto's Security Hub over HTTP: findings are imported
into their own account and region, read back with GetFindings; muted ones are suppressed,
resolved ones archived, and a large run is imported in batches."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import boto3
import pytest
from support.reports import REGION, T0, cluster, report, subnet

from ipaudit.pipeline import after_audit
from ipaudit.report import Report, SubnetReport
from ipaudit.settings import Settings
from ipaudit.store.table import create_table

MEMBER = "222222222222"
TABLE = "ipaudit"


def caller(session: boto3.Session) -> str:
    return str(session.client("sts").get_caller_identity()["Account"])


def member_session(session: boto3.Session, account: str) -> boto3.Session:
    credentials = session.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/IpAuditReadOnly", RoleSessionName="check"
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=REGION,
    )


def findings_in(session: boto3.Session) -> dict[str, dict[str, Any]]:
    """Everything Security Hub holds in the session's account and region, by Id."""
    hub = session.client("securityhub")
    found: dict[str, dict[str, Any]] = {}
    for page in hub.get_paginator("get_findings").paginate():
        found |= {f["Id"]: f for f in page["Findings"]}
    return found


@pytest.fixture
def hub(aws: boto3.Session) -> boto3.Session:
    create_table(aws.client("dynamodb"), TABLE)
    aws.client("securityhub").enable_security_hub()
    member_session(aws, MEMBER).client("securityhub").enable_security_hub()
    return aws


def two_accounts(own: str, free: int, run_id: str, hours: float) -> Report:
    return report(
        [
            cluster("prod", [subnet("subnet-a", free=free)], account_id=own),
            cluster("payments", [subnet("subnet-m", free=100)], account_id=MEMBER),
        ],
        run_id=run_id,
        at=T0 + timedelta(hours=hours),
    )


def test_findings_are_imported_into_their_own_account_as_asff_and_read_back(
    hub: boto3.Session,
) -> None:
    own = caller(hub)
    settings = Settings(table=TABLE, security_hub=True)
    outcome = after_audit(two_accounts(own, 50, "r1", 0), settings, hub, now=T0)
    assert outcome.security_hub_imported == 2 and outcome.security_hub_errors == ()

    mine = findings_in(hub)
    theirs = findings_in(member_session(hub, MEMBER))
    [subnet_a] = mine.values()
    [subnet_m] = theirs.values()
    assert subnet_a["Id"] == f"subnet_headroom:{own}:{REGION}:prod:subnet-a"
    assert subnet_a["ProductArn"] == f"arn:aws:securityhub:{REGION}:{own}:product/{own}/default"
    assert subnet_a["SchemaVersion"] == "2018-10-08"
    assert (subnet_a["GeneratorId"], subnet_a["Severity"]["Label"]) == (
        "subnet_headroom",
        "CRITICAL",
    )
    assert {r["Type"] for r in subnet_a["Resources"]} == {"AwsEc2Subnet", "AwsEksCluster"}
    assert (subnet_a["Workflow"]["Status"], subnet_a["RecordState"]) == ("NEW", "ACTIVE")
    assert subnet_m["AwsAccountId"] == MEMBER and subnet_m["Severity"]["Label"] == "CRITICAL"
    assert subnet_m["ProductArn"].endswith(f":{MEMBER}:product/{MEMBER}/default")


def test_a_muted_finding_is_suppressed_and_a_resolved_one_archived(hub: boto3.Session) -> None:
    own = caller(hub)
    settings = Settings(table=TABLE, security_hub=True)
    after_audit(two_accounts(own, 50, "r1", 0), settings, hub, now=T0)

    # The member's cluster is muted (a mute kept in git); subnet-a has room again: resolved.
    mutes = '[{"cluster": "payments", "reason": "decommissioning", "expires": "2026-04-01"}]'
    muting = replace(Settings.from_env({"IPAUDIT_MUTES": mutes}), table=TABLE, security_hub=True)
    outcome = after_audit(two_accounts(own, 900, "r2", 1), muting, hub, now=T0 + timedelta(hours=1))
    assert outcome.security_hub_errors == ()

    [resolved] = findings_in(hub).values()
    assert (resolved["RecordState"], resolved["Workflow"]["Status"]) == ("ARCHIVED", "RESOLVED")
    assert resolved["CreatedAt"].startswith("2026-03-02T09:00:00")  # first seen, kept
    [muted] = findings_in(member_session(hub, MEMBER)).values()
    assert (muted["RecordState"], muted["Workflow"]["Status"]) == ("ACTIVE", "SUPPRESSED")
    assert muted["ProductFields"]["ipaudit/mute_reason"] == "decommissioning"


def test_a_large_run_is_imported_in_full_across_batches(hub: boto3.Session) -> None:
    own = caller(hub)
    subnets = [
        SubnetReport(f"subnet-{n:03d}", "10.0.0.0/24", "eu-west-1a", 251, 10, 4.0, 0)
        for n in range(230)
    ]
    big = report([cluster("prod", subnets, account_id=own)], run_id="r1", at=T0)
    outcome = after_audit(big, Settings(security_hub=True), hub, now=T0)
    assert outcome.security_hub_imported == 230
    assert len(findings_in(hub)) == 230


def test_without_the_setting_nothing_is_imported(hub: boto3.Session) -> None:
    after_audit(two_accounts(caller(hub), 50, "r1", 0), Settings(table=TABLE), hub, now=T0)
    assert findings_in(hub) == {}


def test_a_bad_setting_value_is_named() -> None:
    with pytest.raises(Exception, match=r"^IPAUDIT_SECURITY_HUB: .yes please. is not true or"):
        Settings.from_env({"IPAUDIT_SECURITY_HUB": "yes please"})
