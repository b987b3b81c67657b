"""Every new, escalated and resolved change reaches Slack and SNS exactly once across outages
and throttling; a run whose destination failed leaves its announcements to the very next run; a
run never sends what a live other run holds, and says so; a process killed between commit and
post loses nothing, one killed between a 2xx and its mark sends at most one duplicate."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from faults.stand_ins import FaultyAws
from pytest_httpserver import HTTPServer
from support.reports import T0, cluster, report, subnet
from werkzeug import Request, Response

from ipaudit.analysis.findings import ceiling_findings
from ipaudit.aws import session as session_module
from ipaudit.cli.audit import delivery_lines
from ipaudit.notify import slack
from ipaudit.pipeline import AfterAudit, after_audit
from ipaudit.report import Ceiling, Coverage, Report
from ipaudit.settings import Settings
from ipaudit.store.codec import from_item
from ipaudit.store.table import create_table
from ipaudit_sim.aws import MotoServer

TABLE = "ipaudit"
HOOK = "/services/T0001/B0001/faults-webhook-token"
CHILD = Path(__file__).with_name("after_audit_child.py")
# What a Slack line starts with, per change (render/slack_blocks.py).
SLACK_MARKS = {
    "new": ":rotating_light: *NEW",
    "escalated": ":arrow_double_up: *ESCALATED",
    "resolved": ":white_check_mark: *RESOLVED",
}


@dataclass
class Stage:
    session: boto3.Session
    settings: Settings
    slack: HTTPServer
    proxy: FaultyAws
    queue_url: str
    topic: str

    def slack_heard(self) -> Counter[str]:
        """Per change, how many times Slack accepted (200) a message announcing it."""
        heard: Counter[str] = Counter()
        for request, answer in self.slack.log:
            if answer.status_code != 200:
                continue
            text = json.dumps(request.get_json(), ensure_ascii=False)
            for change, mark in SLACK_MARKS.items():
                heard[change] += text.count(mark)
        return heard

    def sns_heard(self) -> Counter[str]:
        sqs = self.session.client("sqs")
        heard: Counter[str] = Counter()
        while batch := sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get(
            "Messages"
        ):
            for message in batch:
                body = json.loads(message["Body"])
                heard[body["MessageAttributes"]["change"]["Value"]] += 1
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return heard

    def child_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("IPAUDIT_")}
        env.update(
            IPAUDIT_TABLE=TABLE,
            IPAUDIT_SNS_TOPIC_ARN=self.topic,
            IPAUDIT_SLACK_WEBHOOK_URL=self.slack.url_for(HOOK),
            AWS_ENDPOINT_URL=self.proxy.url,
        )
        return env


@pytest.fixture
def stage(
    aws: boto3.Session,
    moto_server: MotoServer,
    httpserver: HTTPServer,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Stage]:
    create_table(aws.client("dynamodb"), TABLE)
    sns = aws.client("sns")
    topic = sns.create_topic(Name="ipaudit-warnings")["TopicArn"]
    sqs = aws.client("sqs")
    queue_url = sqs.create_queue(QueueName="on-call")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    # Only the clock of Slack's retries is replaced; the retries run against the endpoint.
    monkeypatch.setattr(slack, "DEFAULT_RETRY", slack.RetryPolicy(sleep=lambda _: None))
    proxy = FaultyAws(moto_server.url)
    settings = Settings(
        table=TABLE, sns_topic_arn=topic, slack_webhook_url=httpserver.url_for(HOOK)
    )
    yield Stage(aws, settings, httpserver, proxy, queue_url, topic)
    proxy.stop()


def audit(free: int, run_id: str, hours: float) -> Report:
    return report(
        [cluster(subnets=[subnet(free=free)])], run_id=run_id, at=T0 + timedelta(hours=hours)
    )


def run(stage: Stage, rep: Report, hours: float) -> AfterAudit:
    """One run; the test has pointed AWS_ENDPOINT_URL at the proxy."""
    return after_audit(rep, stage.settings, boto3.Session(), now=T0 + timedelta(hours=hours))


def slack_answers(stage: Stage, status: int) -> None:
    stage.slack.clear_all_handlers()
    stage.slack.expect_request(HOOK).respond_with_data("x", status=status)


def topic_back(stage: Stage) -> None:
    """The deleted topic created again (the same ARN), with on-call's queue subscribed."""
    sns = stage.session.client("sns")
    sns.create_topic(Name="ipaudit-warnings")
    queue_arn = stage.session.client("sqs").get_queue_attributes(
        QueueUrl=stage.queue_url, AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=stage.topic, Protocol="sqs", Endpoint=queue_arn)


def test_every_change_reaches_slack_and_sns_exactly_once_across_an_outage(
    stage: Stage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", stage.proxy.url)
    stage.proxy.services = {"dynamodb", "sns"}
    stage.proxy.share = 0.2
    sns = stage.session.client("sns")

    slack_answers(stage, 500)  # Slack down from the start
    first = run(stage, audit(200, "r1", 0), 0)  # WARNING: new
    assert first.slack_error and first.sns_published == 1

    sns.delete_topic(TopicArn=stage.topic)  # now SNS is gone too
    second = run(stage, audit(50, "r2", 1), 1)  # CRITICAL: escalated
    assert second.slack_error and second.sns_error and second.delivery_failed

    topic_back(stage)
    slack_answers(stage, 200)  # both recover
    third = run(stage, audit(900, "r3", 2), 2)  # plenty free: resolved
    assert not third.delivery_failed and len(third.late) == 3  # Slack: new, escalated; SNS: 1

    run(stage, audit(900, "r4", 3), 3)
    assert stage.slack_heard() == Counter(new=1, escalated=1, resolved=1)
    assert stage.sns_heard() == Counter(new=1, escalated=1, resolved=1)
    assert stage.proxy.throttled.get("dynamodb", 0) > 0


SECONDS = 1 / 3600  # in the hours `audit` and `run` take


def two_new(run_id: str, hours: float) -> Report:
    """A CRITICAL and a WARNING subnet: two new changes on a first run."""
    subnets = [subnet("subnet-a", free=50), subnet("subnet-b", free=200)]
    return report([cluster(subnets=subnets)], run_id=run_id, at=T0 + timedelta(hours=hours))


def test_a_run_seconds_after_a_failed_post_delivers_everything_exactly_once(
    stage: Stage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", stage.proxy.url)
    slack_answers(stage, 500)
    stage.session.client("sns").delete_topic(TopicArn=stage.topic)
    failed = run(stage, two_new("r1", 0), 0)
    assert failed.slack_error and failed.sns_error and failed.summary()["delivery_failed"]

    # On-call fixes both and runs again at once, well inside the failed run's 15-minute lease.
    slack_answers(stage, 200)
    topic_back(stage)
    retried = run(stage, two_new("r2", 30 * SECONDS), 30 * SECONDS)
    assert not retried.delivery_failed and retried.changes == ()
    assert len(retried.late) == 4  # both changes, on both destinations
    assert retried.summary()["held_deliveries"] == 0
    assert stage.slack_heard() == Counter(new=2)
    assert stage.sns_heard() == Counter(new=2)

    posts = len(stage.slack.log)
    third = run(stage, two_new("r3", 60 * SECONDS), 60 * SECONDS)
    assert third.late == () and third.changes == () and not third.delivery_failed
    assert len(stage.slack.log) == posts and stage.sns_heard() == Counter()


def test_what_a_live_run_is_sending_is_not_sent_again_by_an_overlapping_run_and_it_says_so(
    stage: Stage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", stage.proxy.url)
    # r1 waits on Slack while r2 runs; r1 must not give up on its post meanwhile.
    monkeypatch.setattr(
        slack, "DEFAULT_RETRY", slack.RetryPolicy(sleep=lambda _: None, timeout=120)
    )
    overlapping: list[AfterAudit | BaseException] = []

    def second_run_while_the_first_posts(request: Request) -> Response:
        if not overlapping:
            try:
                overlapping.append(run(stage, audit(50, "r2", 120 * SECONDS), 120 * SECONDS))
            except Exception as error:  # reported by the test, not as Slack's answer
                overlapping.append(error)
        return Response("ok")

    stage.slack.expect_request(HOOK).respond_with_handler(second_run_while_the_first_posts)
    first = run(stage, audit(50, "r1", 0), 0)

    (second,) = overlapping
    assert isinstance(second, AfterAudit)
    assert not second.slack_posted and second.sns_published == 0 and second.late == ()
    assert not second.delivery_failed  # nothing failed: another run is sending
    summary = second.summary()
    assert summary["held_deliveries"] == 2  # Slack and SNS, held by r1 for its lease
    assert summary["held_until"] == "2026-03-02T09:15:00Z"
    assert (
        "2 pending announcements not sent: run r1 holds them until 2026-03-02T09:15:00Z"
        in "\n".join(delivery_lines(second))  # what `ipaudit audit` prints on stderr
    )

    assert first.slack_posted and first.sns_published == 1
    assert len(stage.slack.log) == 1  # r2 posted nothing
    assert stage.slack_heard() == Counter(new=1)
    assert stage.sns_heard() == Counter(new=1)


def kill_child_on(stage: Stage, pid: list[int]) -> None:
    """SIGKILL the child the moment DynamoDB has committed its first transaction."""

    def on_answer(service: str, body: bytes, status: int) -> None:
        if service == "dynamodb" and b'"TransactItems"' in body and status == 200 and pid:
            os.kill(pid.pop(), signal.SIGKILL)

    stage.proxy.on_answer = on_answer


def child(stage: Stage, rep: Report, hours: float, tmp_path: Path) -> subprocess.Popen[str]:
    path = tmp_path / f"{rep.run_id}.json"
    path.write_text(json.dumps(rep.to_dict()))
    now = (T0 + timedelta(hours=hours)).isoformat()
    return subprocess.Popen(
        [sys.executable, str(CHILD), str(path), now],
        env=stage.child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_process_killed_between_commit_and_post_loses_nothing(
    stage: Stage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", stage.proxy.url)
    slack_answers(stage, 200)
    pid: list[int] = []
    kill_child_on(stage, pid)
    process = child(stage, audit(50, "r1", 0), 0, tmp_path)
    pid.append(process.pid)
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert stage.slack_heard() == Counter() and stage.sns_heard() == Counter()

    stage.proxy.on_answer = lambda service, body, status: None
    later = run(stage, audit(50, "r2", 1), 1)
    assert later.changes == () and len(later.late) == 2  # Slack and SNS, from r1
    assert stage.slack_heard() == Counter(new=1)
    assert stage.sns_heard() == Counter(new=1)


def test_a_process_killed_between_a_2xx_and_its_mark_sends_at_most_one_duplicate(
    stage: Stage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", stage.proxy.url)
    pid: list[int] = []

    def accept_then_kill(request: Request) -> Response:
        if pid:
            os.kill(pid.pop(), signal.SIGKILL)  # Slack has the message; the mark never comes
        return Response("ok")

    stage.slack.expect_request(HOOK).respond_with_handler(accept_then_kill)
    process = child(stage, audit(50, "r1", 0), 0, tmp_path)
    pid.append(process.pid)
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL

    later = run(stage, audit(50, "r2", 1), 1)
    assert not later.delivery_failed
    run(stage, audit(50, "r3", 2), 2)
    heard = stage.slack_heard()
    assert 1 <= heard["new"] <= 2  # never lost; the one duplicate window
    assert stage.sns_heard() == Counter(new=1)  # SNS was never reached by the killed run


def subnets_report(free: dict[str, int], run_id: str, hours: float) -> Report:
    """One cluster whose subnets have the free addresses given (1019 usable each)."""
    subnets = [subnet(name, free=count) for name, count in free.items()]
    return report([cluster(subnets=subnets)], run_id=run_id, at=T0 + timedelta(hours=hours))


def slack_threads(stage: Stage) -> list[dict[str, list[str]]]:
    """Per accepted Slack post, per subnet, the changes its lines announce, top to bottom."""
    posts = []
    for request, answer in stage.slack.log:
        if answer.status_code != 200:
            continue
        threads: dict[str, list[str]] = {}
        for block in request.get_json()["blocks"]:
            for line in block.get("text", {}).get("text", "").splitlines():
                for change, mark in SLACK_MARKS.items():
                    if line.startswith(mark):
                        where = line.split("subnet ", 1)[1].split(" ", 1)[0]
                        threads.setdefault(where, []).append(change)
        posts.append(threads)
    return posts


def sns_threads(stage: Stage) -> dict[str, list[tuple[str, bool]]]:
    """Per subnet, the (change, late) of every SNS message on-call's queue got, in order."""
    sqs = stage.session.client("sqs")
    threads: dict[str, list[tuple[str, bool]]] = {}
    while batch := sqs.receive_message(QueueUrl=stage.queue_url, MaxNumberOfMessages=10).get(
        "Messages"
    ):
        for message in batch:
            envelope = json.loads(message["Body"])
            body = json.loads(envelope["Message"])
            where = body["finding"]["resource"]
            threads.setdefault(where, []).append((body["change"], body["late"]))
            sqs.delete_message(QueueUrl=stage.queue_url, ReceiptHandle=message["ReceiptHandle"])
    return threads


def test_after_an_outage_each_finding_reads_in_commit_order_and_ends_on_its_current_state(
    stage: Stage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", stage.proxy.url)
    slack_answers(stage, 500)
    stage.session.client("sns").delete_topic(TopicArn=stage.topic)
    # 200 free of 1019 is WARNING, 50 CRITICAL, 900 no finding (resolved when open).
    run(stage, subnets_report({"subnet-a": 200, "subnet-b": 200}, "r1", 0), 0)  # new, new
    run(stage, subnets_report({"subnet-a": 900, "subnet-b": 50}, "r2", 1), 1)  # resolved, esc.
    run(stage, subnets_report({"subnet-a": 200, "subnet-b": 900}, "r3", 2), 2)  # new, resolved

    slack_answers(stage, 200)
    topic_back(stage)
    caught_up = run(stage, subnets_report({"subnet-a": 200}, "r4", 3), 3)
    assert not caught_up.delivery_failed and caught_up.changes == ()

    # subnet-a is open again, subnet-b resolved: the last line of each says so.
    (post,) = slack_threads(stage)
    assert post == {
        "subnet-a": ["new", "resolved", "new"],
        "subnet-b": ["new", "escalated", "resolved"],
    }
    assert sns_threads(stage) == {
        "subnet-a": [("new", True), ("resolved", True), ("new", True)],
        "subnet-b": [("new", True), ("escalated", True), ("resolved", True)],
    }
    assert caught_up.slack_changes == 6 and caught_up.sns_published == 6


def test_two_invocations_of_one_scheduled_run_send_each_change_once(
    stage: Stage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """EventBridge delivers at least once: the duplicate has the same scheduled time, hence the
    same run id, and runs while the first is posting."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", stage.proxy.url)
    # One attempt: the endpoint answers one request at a time, so a post from the duplicate
    # (the defect) times out instead of waiting for the first one's handler forever.
    monkeypatch.setattr(
        slack, "DEFAULT_RETRY", slack.RetryPolicy(attempts=1, sleep=lambda _: None, timeout=20)
    )
    duplicate: list[AfterAudit | BaseException] = []
    started: list[bool] = []

    def duplicate_runs_while_the_first_posts(request: Request) -> Response:
        if not started:
            started.append(True)
            try:
                duplicate.append(run(stage, two_new("r1", 0), 0))
            except Exception as error:  # reported by the test, not as Slack's answer
                duplicate.append(error)
        return Response("ok")

    stage.slack.expect_request(HOOK).respond_with_handler(duplicate_runs_while_the_first_posts)
    first = run(stage, two_new("r1", 0), 0)

    (second,) = duplicate
    assert isinstance(second, AfterAudit)
    assert second.changes == () and second.sending == () and not second.slack_posted
    assert second.summary()["held_deliveries"] == 4  # 2 changes x (Slack, SNS), held by r1
    assert first.slack_changes == 2 and first.sns_published == 2
    assert len(stage.slack.log) == 1
    assert stage.slack_heard() == Counter(new=2)
    assert stage.sns_heard() == Counter(new=2)


def test_one_failed_mark_does_not_stop_the_others_and_is_tried_again(
    stage: Stage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", stage.proxy.url)
    monkeypatch.setattr(session_module, "ATTEMPTS", 1)  # botocore's retries spent at once
    stage.settings = replace(stage.settings, sns_topic_arn=None)

    def accept_then_throttle_the_next_table_call(request: Request) -> Response:
        stage.proxy.throttle_next["dynamodb"] = 1  # the first DeleteItem after the 2xx
        return Response("ok")

    stage.slack.expect_request(HOOK).respond_with_handler(accept_then_throttle_the_next_table_call)
    eight = {f"subnet-{n}": 50 for n in range(8)}
    first = run(stage, subnets_report(eight, "r1", 0), 0)
    assert stage.proxy.throttled == {"dynamodb": 1}
    assert first.slack_changes == 8 and first.storage_error is None  # marked on the retry

    stage.slack.clear_all_handlers()
    slack_answers(stage, 200)
    after_the_lease = run(stage, subnets_report(eight, "r2", 1), 1)
    assert after_the_lease.sending == () and not after_the_lease.slack_posted
    assert stage.slack_heard() == Counter(new=8)


def test_a_mark_that_keeps_failing_costs_one_late_duplicate_and_says_so(
    stage: Stage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", stage.proxy.url)
    monkeypatch.setattr(session_module, "ATTEMPTS", 1)
    stage.settings = replace(stage.settings, sns_topic_arn=None)

    def accept_then_throttle_both_tries(request: Request) -> Response:
        # The first DeleteItem fails, the seven others pass, then the retry of the first fails.
        stage.proxy.throttle_next["dynamodb"] = 1
        stage.proxy.on_answer = on_seventh_delete
        return Response("ok")

    deletes: list[bytes] = []

    def on_seventh_delete(service: str, body: bytes, status: int) -> None:
        if service == "dynamodb" and b'"Key"' in body and b'"TableName"' in body:
            deletes.append(body)
            if len(deletes) == 7:
                stage.proxy.throttle_next["dynamodb"] = 1

    stage.slack.expect_request(HOOK).respond_with_handler(accept_then_throttle_both_tries)
    eight = {f"subnet-{n}": 50 for n in range(8)}
    first = run(stage, subnets_report(eight, "r1", 0), 0)
    assert first.slack_changes == 8
    assert first.storage_error and "marking 1 delivered announcement " in first.storage_error
    stage.proxy.on_answer = lambda service, body, status: None

    stage.slack.clear_all_handlers()
    slack_answers(stage, 200)
    later = run(stage, subnets_report(eight, "r2", 1), 1)  # after r1's lease
    assert len(later.late_delivered) == 1 and later.slack_changes == 1
    assert stage.slack_heard() == Counter(new=9)  # the one duplicate, marked late
    assert "_(late: found 2026-03-02T09:00:00Z)_" in json.dumps(stage.slack.log[-1][0].get_json())


def test_sns_batches_are_marked_as_accepted_so_a_kill_before_the_next_resends_nothing(
    stage: Stage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", stage.proxy.url)
    slack_answers(stage, 200)
    pid: list[int] = []
    batches: list[bytes] = []

    def kill_on_the_second_batch(service: str, region: str, body: bytes) -> bool:
        if service == "sns" and b"Action=PublishBatch" in body:
            batches.append(body)
            if len(batches) == 2 and pid:
                os.kill(pid.pop(), signal.SIGKILL)
                return True  # never reaches SNS
        return False

    stage.proxy.hang = kill_on_the_second_batch
    twelve = {f"subnet-{n:02d}": 50 for n in range(12)}  # a batch of ten, then one of two
    process = child(stage, subnets_report(twelve, "r1", 0), 0, tmp_path)
    pid.append(process.pid)
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert stage.sns_heard() == Counter(new=10)

    stage.proxy.hang = lambda service, region, body: False
    later = run(stage, subnets_report(twelve, "r2", 1), 1)  # after r1's lease
    assert later.sns_published == 2 and len(later.late_delivered) == 2
    assert stage.sns_heard() == Counter(new=2)
    assert stage.slack_heard() == Counter(new=12)


def test_a_retry_of_the_same_run_marks_what_it_re_posts_late(
    stage: Stage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Lambda retry has the same run id; Slack may already have what it re-posts."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", stage.proxy.url)
    pid: list[int] = []

    def accept_then_kill(request: Request) -> Response:
        if pid:
            os.kill(pid.pop(), signal.SIGKILL)
        return Response("ok")

    stage.slack.expect_request(HOOK).respond_with_handler(accept_then_kill)
    process = child(stage, audit(50, "r1", 0), 0, tmp_path)
    pid.append(process.pid)
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL

    retry = run(stage, audit(50, "r1", 0.5), 0.5)  # the same run id, after the lease
    assert retry.changes == () and retry.slack_changes == 1 and retry.sns_published == 1
    (_, repost) = [request.get_json() for request, _ in stage.slack.log]
    assert "_(late: found 2026-03-02T09:00:00Z)_" in json.dumps(repost)
    assert stage.sns_heard() == Counter(new=1)


def test_a_commit_that_fails_midway_releases_what_it_committed_for_the_next_run(
    stage: Stage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", stage.proxy.url)
    monkeypatch.setattr(session_module, "ATTEMPTS", 1)
    slack_answers(stage, 200)
    transactions: list[bytes] = []

    def throttle_the_second_transaction(service: str, body: bytes) -> bool:
        if service == "dynamodb" and b'"TransactItems"' in body:
            transactions.append(body)
            return len(transactions) == 2
        return False

    stage.proxy.throttle_when = throttle_the_second_transaction
    failed = run(stage, two_new("r1", 0), 0)
    assert failed.storage_error and "recording alert changes" in failed.storage_error
    assert len(failed.changes) == 1 and failed.sending == ()  # one committed, nothing sent
    assert stage.slack_heard() == Counter() and stage.sns_heard() == Counter()

    # Seconds later, well inside the 15-minute lease: nobody "is sending them".
    stage.proxy.throttle_when = lambda service, body: False
    next_run = run(stage, two_new("r2", 30 * SECONDS), 30 * SECONDS)
    assert next_run.summary()["held_deliveries"] == 0 and next_run.held_note() is None
    assert len(next_run.changes) == 1  # the transition r1 could not commit
    assert len(next_run.late_delivered) == 2  # r1's one change, on Slack and SNS
    assert stage.slack_heard() == Counter(new=2)
    assert stage.sns_heard() == Counter(new=2)


def test_security_hub_still_imports_when_the_alert_state_cannot_be_read(
    stage: Stage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", stage.proxy.url)
    monkeypatch.setattr(session_module, "ATTEMPTS", 1)
    stage.session.client("securityhub").enable_security_hub()
    own = stage.session.client("sts").get_caller_identity()["Account"]
    rep = report([cluster(subnets=[subnet(free=50)], account_id=own)], run_id="r1", at=T0)
    states_read: list[bytes] = []

    def throttle_the_second_state_read(service: str, body: bytes) -> bool:
        if service == "dynamodb" and b'"ALERTS"' in body and b"KeyConditionExpression" in body:
            states_read.append(body)
            return len(states_read) == 2  # the lifecycle's read passes, Security Hub's fails
        return False

    stage.proxy.throttle_when = throttle_the_second_state_read
    slack_answers(stage, 200)
    settings = replace(stage.settings, security_hub=True)
    outcome = after_audit(rep, settings, boto3.Session(), now=T0)
    assert outcome.storage_error and "reading alert state" in outcome.storage_error
    assert outcome.security_hub_imported == 1 and outcome.security_hub_errors == ()
    assert stage.slack_heard() == Counter(new=1) and stage.sns_heard() == Counter(new=1)


def with_ceiling(run_id: str, hours: float, ceiling: Ceiling | None, **kw: Any) -> Report:
    """A cluster with plenty of free addresses whose node group has the ceiling given."""
    base = cluster(subnets=[subnet(free=900)])
    base = replace(base, ceilings=[] if ceiling is None else [ceiling])
    return report(
        [base],
        run_id=run_id,
        at=T0 + timedelta(hours=hours),
        extra_findings=ceiling_findings(base),
        **kw,
    )


STUCK = Ceiling(
    group="ng-1",
    kind="nodegroup",
    subnet_ids=["subnet-a"],
    instance_types=["m5.large"],
    current_nodes=3,
    modelled=True,
    nodes_possible=0,
    severity="CRITICAL",
    note="ng-1 cannot start one more node",
)
UNKNOWN_TYPE = "not modelled: instance type m5.large unknown to DescribeInstanceTypes"


def test_a_finding_that_cannot_be_evaluated_keeps_its_state_and_says_why(
    stage: Stage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", stage.proxy.url)
    slack_answers(stage, 200)
    opened = run(stage, with_ceiling("r1", 0, STUCK), 0)
    assert [c.change for c in opened.changes] == ["new"]

    # DescribeInstanceTypes no longer knows m5.large: the ceiling cannot be counted.
    unknown = replace(STUCK, modelled=False, severity=None, nodes_possible=None, note=UNKNOWN_TYPE)
    blind = run(stage, with_ceiling("r2", 1, unknown), 1)
    assert blind.changes == ()
    ((kept, why),) = blind.kept
    assert kept.resource == "nodegroup/ng-1" and why == UNKNOWN_TYPE
    assert (
        "kept open, not evaluated this run: scale_ceiling nodegroup/ng-1 in "
        f"111111111111/eu-west-1/prod: {UNKNOWN_TYPE}" in delivery_lines(blind)
    )

    # Its cluster's Kubernetes API did not answer: kept too, with that reason.
    failed = [Coverage("111111111111", "eu-west-1", "prod", "error", "token refused")]
    unaudited = run(stage, with_ceiling("r3", 2, None, coverage=failed), 2)
    assert unaudited.changes == ()
    assert [why for _, why in unaudited.kept] == ["not audited: token refused"]

    healthy = run(stage, with_ceiling("r4", 3, STUCK), 3)
    assert healthy.changes == () and healthy.kept == ()  # still open: neither new nor resolved
    gone = run(stage, with_ceiling("r5", 4, None), 4)  # evaluated, and the group is gone
    assert [c.change for c in gone.changes] == ["resolved"]
    assert stage.slack_heard() == Counter(new=1, resolved=1)
    assert stage.sns_heard() == Counter(new=1, resolved=1)


def test_what_a_run_says_it_delivered_counts_what_destinations_accepted_once_per_change(
    stage: Stage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", stage.proxy.url)
    slack_answers(stage, 500)
    stage.session.client("sns").delete_topic(TopicArn=stage.topic)
    run(stage, two_new("r1", 0), 0)
    still_down = run(stage, two_new("r2", 1), 1)  # re-sends both, nothing is accepted
    assert len(still_down.late) == 4 and still_down.late_delivered == ()
    assert not any(line.startswith("delivered") for line in delivery_lines(still_down))

    slack_answers(stage, 200)
    topic_back(stage)
    caught_up = run(stage, two_new("r3", 2), 2)
    lines = delivery_lines(caught_up)
    assert caught_up.changes == ()  # nothing new this run: both changes are r1's
    assert "Slack: posted 2 changes" in lines
    assert "SNS: published 2 messages" in lines
    assert "delivered 2 announcements an earlier run could not (Slack 2, SNS 2)" in lines
    assert caught_up.summary()["slack_changes"] == 2
    assert caught_up.summary()["late_delivered"] == 4


def test_slack_asking_to_wait_past_the_deadline_is_not_waited_for(
    stage: Stage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", stage.proxy.url)
    stage.slack.expect_request(HOOK).respond_with_data(
        "slow down", status=429, headers={"Retry-After": "3600"}
    )
    # 20 s left: Slack's wait (3600 s, capped at 30) would outgrow the run.
    first = after_audit(
        audit(50, "r1", 0), stage.settings, boto3.Session(), now=T0, deadline=time.monotonic() + 20
    )
    assert first.slack_error and "wait past the run's deadline" in first.slack_error
    assert len(stage.slack.log) == 1  # asked once, never waited for
    assert first.sns_published == 1  # and SNS had its turn

    slack_answers(stage, 200)
    soon = run(stage, audit(50, "r2", 30 * SECONDS), 30 * SECONDS)  # released: sent at once
    assert len(soon.late_delivered) == 1
    assert stage.slack_heard() == Counter(new=1) and stage.sns_heard() == Counter(new=1)


def pending(stage: Stage) -> list[dict[str, Any]]:
    """The table's pending deliveries, as stored."""
    items = stage.session.client("dynamodb").scan(TableName=TABLE)["Items"]
    return [from_item(i) for i in items if i["pk"] == {"S": "PENDING"}]


def test_a_hung_slack_costs_its_share_of_the_deadline_and_sns_still_publishes(
    stage: Stage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", stage.proxy.url)
    released = threading.Event()

    def hang(request: Request) -> Response:
        released.wait()
        return Response("gone", status=503)

    stage.slack.expect_request(HOOK).respond_with_handler(hang)
    try:
        first = after_audit(
            audit(50, "r1", 0),
            stage.settings,
            boto3.Session(),
            now=T0,
            deadline=time.monotonic() + 10,
        )
        assert first.slack_error and "did not finish by the run's deadline" in first.slack_error
        assert first.sns_published == 1 and stage.sns_heard() == Counter(new=1)
        # Slack may have had it: neither marked nor released, it stays claimed for the lease
        # (the first run after it sends it, late: test_deliveries' lease tests).
        (item,) = pending(stage)
        assert item["destination"] == "slack" and item["claimed_by"] == first.invocation
        assert "last_error" not in item
    finally:
        released.set()  # the abandoned post ends with a 503, never marking or releasing


def test_a_hung_sns_is_cut_at_the_deadline_and_what_it_may_have_is_left_claimed(
    stage: Stage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", stage.proxy.url)
    slack_answers(stage, 200)
    # Hung until the test ends: the abandoned call never reaches SNS meanwhile.
    stage.proxy.hang = lambda service, region, body: service == "sns"
    first = after_audit(
        audit(50, "r1", 0), stage.settings, boto3.Session(), now=T0, deadline=time.monotonic() + 10
    )
    assert first.slack_changes == 1  # Slack, first, had its turn
    assert first.sns_error and "did not finish by the run's deadline" in first.sns_error
    assert first.sns_published == 0
    (item,) = pending(stage)  # Slack's is marked; SNS's stays claimed, not released
    assert item["destination"] == "sns" and item["claimed_by"] == first.invocation
    assert "last_error" not in item
    assert stage.slack_heard() == Counter(new=1)


def test_a_hung_table_is_cut_at_its_share_of_the_deadline_and_the_report_survives(
    stage: Stage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", stage.proxy.url)
    slack_answers(stage, 200)
    stage.proxy.hang = lambda service, region, body: (
        service == "dynamodb" and b'"TransactItems"' in body
    )
    outcome = after_audit(
        audit(50, "r1", 0), stage.settings, boto3.Session(), now=T0, deadline=time.monotonic() + 10
    )
    assert outcome.stored and outcome.report.findings  # stored before the hang; report intact
    assert outcome.storage_error == (
        "DynamoDB did not finish by the run's deadline recording alert changes"
    )
    assert outcome.sending == () and stage.slack.log == []  # nothing committed, nothing sent
