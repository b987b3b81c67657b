"""Mutes as on-call uses them, against the moto server and a local Slack endpoint: `ipaudit
mute`/`mutes`/`unmute` keep who, when and why in the table; a muted finding stays in the report
and the digest but raises no Slack or SNS message, and alerts again as new once the mute ends."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from pytest_httpserver import HTTPServer
from support.reports import ACCOUNT, REGION, T0, cluster, report, subnet

from ipaudit.alerts.mutes import Mute
from ipaudit.digest import weekly_digest
from ipaudit.notify import slack
from ipaudit.pipeline import AfterAudit, after_audit
from ipaudit.report import Report
from ipaudit.settings import Settings
from ipaudit.store.mute_items import put_mute
from ipaudit.store.table import create_table

TABLE = "ipaudit"
HOOK_PATH = "/services/T0001/B0001/mute-test-token"
FINDING = f"subnet_headroom:{ACCOUNT}:{REGION}:prod:subnet-a"


def ipaudit(*args: str) -> subprocess.CompletedProcess[str]:
    """The real command, in this test's environment (aimed at moto by the `aws` fixture)."""
    return subprocess.run(
        [sys.executable, "-m", "ipaudit", *args],
        env={**os.environ, "IPAUDIT_TABLE": TABLE},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@dataclass
class OnCall:
    session: boto3.Session
    settings: Settings
    slack: HTTPServer
    queue_url: str

    def slack_posts(self) -> int:
        return len(self.slack.log)

    def sns_changes(self) -> list[str]:
        sqs = self.session.client("sqs")
        batch = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
        changes = []
        for message in batch.get("Messages", []):
            body = json.loads(message["Body"])
            changes.append(body["MessageAttributes"]["change"]["Value"])
            sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return changes

    def audit(self, free: int, run_id: str, hours: float) -> AfterAudit:
        rep: Report = report(
            [cluster(subnets=[subnet(free=free)])], run_id=run_id, at=T0 + timedelta(hours=hours)
        )
        return after_audit(rep, self.settings, self.session, now=T0 + timedelta(hours=hours))


@pytest.fixture
def table(aws: boto3.Session) -> boto3.Session:
    create_table(aws.client("dynamodb"), TABLE)
    return aws


@pytest.fixture
def on_call(
    table: boto3.Session, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[OnCall]:
    topic = table.client("sns").create_topic(Name="ipaudit-warnings")["TopicArn"]
    sqs = table.client("sqs")
    queue_url = sqs.create_queue(QueueName="on-call")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    table.client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    monkeypatch.setattr(slack, "DEFAULT_RETRY", slack.RetryPolicy(sleep=lambda _s: None))
    httpserver.expect_request(HOOK_PATH, method="POST").respond_with_data("ok")
    settings = Settings(
        table=TABLE, sns_topic_arn=topic, slack_webhook_url=httpserver.url_for(HOOK_PATH)
    )
    yield OnCall(table, settings, httpserver, queue_url)


def test_mute_list_and_unmute_through_the_command_keep_who_when_and_why(
    table: boto3.Session,
) -> None:
    caller = table.client("sts").get_caller_identity()["Arn"]
    done = ipaudit("mute", FINDING, "--for", "7d", "--reason", "dedicated /28 for the API")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"muted {FINDING} until ")
    pattern = ipaudit(
        "mute", "--match", "cluster=legacy-*", "--match", "kind=subnet_headroom",
        "--for", "2w", "--reason", "decommissioning in December",
    )  # fmt: skip
    assert pattern.returncode == 0, pattern.stderr

    listed = ipaudit("mutes", "--json")
    assert listed.returncode == 0, listed.stderr
    by_id = {m["id"]: m for m in json.loads(listed.stdout)}
    one = by_id[FINDING]
    assert (one["finding_id"], one["reason"], one["created_by"], one["source"]) == (
        FINDING,
        "dedicated /28 for the API",
        caller,
        "table",
    )
    expires = datetime.fromisoformat(one["expires_at"].replace("Z", "+00:00"))
    created = datetime.fromisoformat(one["created_at"].replace("Z", "+00:00"))
    assert expires - created == timedelta(days=7)
    assert abs(datetime.now(UTC) - created) < timedelta(minutes=5)
    [other] = [m for m in by_id.values() if m["id"] != FINDING]
    assert other["pattern"] == {"cluster": "legacy-*", "kind": "subnet_headroom"}

    text = ipaudit("mutes")
    assert "dedicated /28 for the API" in text.stdout and caller in text.stdout

    assert ipaudit("unmute", FINDING).returncode == 0
    assert [m["id"] for m in json.loads(ipaudit("mutes", "--json").stdout)] == [other["id"]]
    gone = ipaudit("unmute", FINDING)
    assert gone.returncode == 1
    assert gone.stderr.strip() == (
        f"ipaudit: error: MUTE_ID: no mute {FINDING!r} (`ipaudit mutes` lists them)"
    )


@pytest.mark.parametrize(
    ("args", "code", "expected"),
    [
        (["mute", FINDING, "--for", "7d"], 2, "the following arguments are required: --reason"),
        (["mute", FINDING, "--reason", "x"], 2, "the following arguments are required: --for"),
        (["mute", FINDING, "--for", "1y", "--reason", "x"], 1, "--for: '1y' is not a duration"),
        (["mute", FINDING, "--for", "7d", "--reason", " "], 1, "--reason: say why"),
        (["mute", "--for", "7d", "--reason", "x"], 1, "give a FINDING_ID or --match"),
        (["mute", "--match", "cluster=*", "--for", "7d", "--reason", "x"], 1, "every finding"),
        (["mute", "prod", "--for", "7d", "--reason", "x"], 1, "FINDING_ID: 'prod' is not a"),
    ],
)
def test_a_bad_mute_is_one_line_and_nothing_is_stored(
    table: boto3.Session, args: list[str], code: int, expected: str
) -> None:
    done = ipaudit(*args)
    assert done.returncode == code
    [line] = done.stderr.splitlines()
    assert expected in line
    items = table.client("dynamodb").scan(TableName=TABLE)["Items"]
    assert items == []


def test_a_muted_finding_stays_in_the_report_and_digest_but_alerts_nobody_until_it_expires(
    on_call: OnCall,
) -> None:
    first = on_call.audit(200, "r1", 0)  # WARNING: announced
    assert on_call.slack_posts() == 1 and on_call.sns_changes() == ["new"]
    assert not first.report.findings[0].muted

    put_mute(
        on_call.session.client("dynamodb"),
        TABLE,
        Mute(
            id=FINDING,
            reason="dedicated /28 for the API",
            expires_at=T0 + timedelta(days=7),
            created_by="arn:aws:iam::111111111111:user/alice",
            created_at=T0,
            source="table",
            finding_id=FINDING,
        ),
    )
    worse = on_call.audit(50, "r2", 1)  # escalates to CRITICAL, but muted
    [finding] = worse.report.findings
    assert (finding.muted, finding.mute_reason, finding.mute_expires_at) == (
        True,
        "dedicated /28 for the API",
        "2026-03-09T09:00:00Z",
    )
    assert worse.changes == ()
    assert on_call.slack_posts() == 1 and on_call.sns_changes() == []
    assert on_call.audit(50, "r3", 30).changes == ()  # no reminder either

    digest = weekly_digest(on_call.settings, on_call.session, now=T0 + timedelta(hours=31))
    assert "Muted (1)" in digest.text and "dedicated /28 for the API" in digest.text
    assert "Muted (1)" in digest.html

    back = on_call.audit(50, "r4", 24 * 7 + 1)  # the mute ended an hour ago
    assert [c.change for c in back.changes if c.finding.id == FINDING] == ["new"]
    assert on_call.slack_posts() == 2 and "new" in on_call.sns_changes()


def test_mutes_from_the_settings_work_without_a_table(on_call: OnCall) -> None:
    entries = [{"cluster": "prod", "reason": "kept in git", "expires": "2026-04-01"}]
    settings = Settings.from_env(
        {
            "IPAUDIT_SNS_TOPIC_ARN": on_call.settings.sns_topic_arn or "",
            "IPAUDIT_MUTES": json.dumps(entries),
        }
    )
    rep = report([cluster(subnets=[subnet(free=50)])], run_id="r1", at=T0)
    outcome = after_audit(rep, settings, on_call.session, now=T0)
    assert [f.mute_reason for f in outcome.report.findings] == ["kept in git"]
    assert outcome.sns_published == 0 and on_call.sns_changes() == []


def test_a_bad_mutes_setting_stops_before_anything_runs() -> None:
    with pytest.raises(Exception, match=r"^IPAUDIT_MUTES\[0\].expires: missing"):
        Settings.from_env({"IPAUDIT_MUTES": '[{"cluster": "a", "reason": "x"}]'})
    with pytest.raises(Exception, match=r"^IPAUDIT_MUTES: not JSON"):
        Settings.from_env({"IPAUDIT_MUTES": "[{"})
