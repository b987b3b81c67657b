"""After an audit, against the moto server and a local Slack endpoint: on-call hears about each
change once, whatever the retries, overlaps and outages."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import boto3
import pytest
from pytest_httpserver import HTTPServer
from support.reports import T0, cluster, report, subnet

from ipaudit.notify import slack
from ipaudit.pipeline import after_audit
from ipaudit.report import Report
from ipaudit.settings import Settings
from ipaudit.store.runs import cluster_history
from ipaudit.store.table import create_table

TABLE = "ipaudit"
HOOK_PATH = "/services/T0001/B0001/hush-hush-webhook-token"


@dataclass
class World:
    session: boto3.Session
    settings: Settings
    slack: HTTPServer
    queue_url: str
    waits: list[float]

    def slack_posts(self) -> list[dict[str, Any]]:
        return [request.get_json() for request, _ in self.slack.log]

    def sns_messages(self) -> list[dict[str, Any]]:
        """Everything SNS delivered to the subscribed queue since the last call."""
        sqs = self.session.client("sqs")
        messages = []
        while True:
            batch = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
            if not batch.get("Messages"):
                return messages
            for message in batch["Messages"]:
                messages.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def world(
    aws: boto3.Session, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    create_table(aws.client("dynamodb"), TABLE)
    topic = aws.client("sns").create_topic(Name="ipaudit-warnings")["TopicArn"]
    sqs = aws.client("sqs")
    queue_url = sqs.create_queue(QueueName="on-call")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    aws.client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    waits: list[float] = []
    # Only the clock is replaced: the retries themselves run for real against the endpoint.
    monkeypatch.setattr(slack, "DEFAULT_RETRY", slack.RetryPolicy(sleep=waits.append))
    settings = Settings(
        table=TABLE, sns_topic_arn=topic, slack_webhook_url=httpserver.url_for(HOOK_PATH)
    )
    yield World(aws, settings, httpserver, queue_url, waits)


def slack_ok(world: World) -> None:
    world.slack.expect_request(HOOK_PATH, method="POST").respond_with_data("ok")


def audit(free: int, run_id: str, hours: float) -> Report:
    return report(
        [cluster(subnets=[subnet(free=free)], with_recommendation=True)],
        run_id=run_id,
        at=T0 + timedelta(hours=hours),
    )


def run(world: World, rep: Report, hours: float, **kwargs: Any) -> Any:
    return after_audit(
        rep, world.settings, world.session, now=T0 + timedelta(hours=hours), **kwargs
    )


def test_first_run_posts_once_and_an_identical_second_run_posts_nothing(world: World) -> None:
    slack_ok(world)
    first = run(world, audit(50, "r1", 0), 0)

    (post,) = world.slack_posts()
    assert "CRITICAL" in post["blocks"][0]["text"]["text"]
    assert "subnet-a" in json.dumps(post)
    (message,) = world.sns_messages()
    attributes = {k: v["Value"] for k, v in message["MessageAttributes"].items()}
    assert attributes == {
        "severity": "CRITICAL",
        "account_id": "111111111111",
        "region": "eu-west-1",
        "cluster": "prod",
        "kind": "subnet_headroom",
        "change": "new",
    }
    assert len(message["Subject"]) < 100
    body = json.loads(message["Message"])
    assert body["finding"]["resource"] == "subnet-a"
    assert body["recommendation"]["ips_returned"] == 390
    assert first.summary()["changes"]["new"] == 1 and first.sns_published == 1

    second = run(world, audit(50, "r2", 1), 1)
    assert len(world.slack_posts()) == 1
    assert world.sns_messages() == []
    assert second.changes == () and second.stored


def test_an_escalation_posts_and_so_does_the_resolution(world: World) -> None:
    slack_ok(world)
    run(world, audit(200, "r1", 0), 0)  # WARNING
    world.sns_messages()

    run(world, audit(50, "r2", 1), 1)  # CRITICAL
    assert "ESCALATED WARNING → CRITICAL" in json.dumps(world.slack_posts()[-1], ensure_ascii=False)
    (escalated,) = world.sns_messages()
    assert escalated["MessageAttributes"]["change"]["Value"] == "escalated"

    run(world, audit(900, "r3", 2), 2)  # plenty free again
    resolved_post = world.slack_posts()[-1]
    assert "RESOLVED" in resolved_post["blocks"][0]["text"]["text"]
    (resolved,) = world.sns_messages()
    assert resolved["Subject"].startswith("ipaudit RESOLVED")
    assert len(world.slack_posts()) == 3


def test_a_lambda_retry_of_the_same_run_posts_nothing_new(world: World) -> None:
    slack_ok(world)
    rep = audit(50, "r1", 0)
    run(world, rep, 0)
    world.sns_messages()
    retried = run(world, rep, 30)  # past the renotify period, still the same run
    assert len(world.slack_posts()) == 1
    assert world.sns_messages() == []
    assert retried.changes == ()


def test_an_unchanged_alert_is_repeated_once_after_the_renotify_period(world: World) -> None:
    slack_ok(world)
    run(world, audit(50, "r1", 0), 0)
    run(world, audit(50, "r2", 25), 25)
    run(world, audit(50, "r3", 26), 26)
    posts = world.slack_posts()
    assert len(posts) == 2 and "1 reminded" in posts[1]["blocks"][0]["text"]["text"]


def test_slack_429_then_200_is_retried_after_retry_after(world: World) -> None:
    world.slack.expect_ordered_request(HOOK_PATH).respond_with_data(
        "rate_limited", status=429, headers={"Retry-After": "3"}
    )
    world.slack.expect_ordered_request(HOOK_PATH).respond_with_data("ok")
    outcome = run(world, audit(50, "r1", 0), 0)
    assert outcome.slack_posted and outcome.slack_error is None
    assert world.waits == [3.0]
    assert len(world.slack.log) == 2


def test_slack_down_still_stores_and_publishes_and_never_leaks_the_url(
    world: World, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    world.slack.expect_request(HOOK_PATH).respond_with_data("down", status=500)
    outcome = run(world, audit(50, "r1", 0), 0)

    assert not outcome.slack_posted
    assert "500" in (outcome.slack_error or "")
    assert len(world.slack.log) == slack.DEFAULT_RETRY.attempts
    assert outcome.sns_published == 1 and len(world.sns_messages()) == 1
    stored = cluster_history(
        world.session.client("dynamodb"), TABLE, "111111111111", "eu-west-1", "prod", T0
    )
    assert [r.run_id for r in stored] == ["r1"]

    items = world.session.client("dynamodb").scan(TableName=TABLE)["Items"]
    ours = [r.getMessage() for r in caplog.records if r.name != "werkzeug"]  # not the stand-in's
    out = capsys.readouterr()
    for text in (json.dumps(items), "\n".join(ours), json.dumps(outcome.summary()), out.out):
        assert "hush-hush-webhook-token" not in text
    assert "hush-hush-webhook-token" not in repr(world.settings)


def test_the_webhook_can_come_from_secrets_manager(world: World) -> None:
    slack_ok(world)
    secret = world.session.client("secretsmanager").create_secret(
        Name="ipaudit/slack",
        SecretString=json.dumps({"webhook_url": world.settings.slack_webhook_url}),
    )
    world.settings = replace(world.settings, slack_webhook_url=None, slack_secret_arn=secret["ARN"])
    outcome = run(world, audit(50, "r1", 0), 0)
    assert outcome.slack_posted and len(world.slack_posts()) == 1


def test_what_waited_for_the_webhook_secret_is_posted_as_soon_as_it_holds_a_url(
    world: World,
) -> None:
    slack_ok(world)
    secrets = world.session.client("secretsmanager")
    secret = secrets.create_secret(Name="ipaudit/slack", SecretString="set me")  # the placeholder
    world.settings = replace(world.settings, slack_webhook_url=None, slack_secret_arn=secret["ARN"])
    first = run(world, audit(50, "r1", 0), 0)
    assert not first.slack_posted and not first.delivery_failed and world.slack_posts() == []

    secrets.put_secret_value(SecretId=secret["ARN"], SecretString=world.slack.url_for(HOOK_PATH))
    second = run(world, audit(50, "r2", 0.01), 0.01)  # 36 seconds later, inside r1's lease
    assert second.slack_posted and len(second.late) == 1 and len(world.slack_posts()) == 1


def test_a_dry_run_shows_what_would_be_posted_and_changes_no_alert_state(world: World) -> None:
    slack_ok(world)
    dry = run(world, audit(50, "r1", 0), 0, dry_run=True)
    assert dry.slack_payload is not None and "CRITICAL" in dry.slack_payload["text"]
    assert [m.attributes["change"] for m in dry.sns_messages] == ["new"]
    assert world.slack_posts() == [] and world.sns_messages() == []

    real = run(world, audit(50, "r2", 1), 1)
    assert [c.change for c in real.changes] == ["new"]  # the dry run announced nothing
    assert len(world.slack_posts()) == 1


def test_no_notify_stores_the_run_and_keeps_the_news_for_the_next_run(world: World) -> None:
    slack_ok(world)
    quiet = run(world, audit(50, "r1", 0), 0, notify=False)
    assert quiet.stored and quiet.changes == () and world.slack_posts() == []
    run(world, audit(50, "r2", 1), 1)
    assert len(world.slack_posts()) == 1


def test_without_a_table_every_alerting_finding_is_posted_each_run(world: World) -> None:
    slack_ok(world)
    world.settings = replace(world.settings, table=None)
    for n in range(2):
        outcome = run(world, audit(50, f"r{n}", n), n)
        assert not outcome.stored and [c.change for c in outcome.changes] == ["new"]
    assert len(world.slack_posts()) == 2


def test_what_slack_refused_is_posted_late_by_the_next_run_and_then_never_again(
    world: World,
) -> None:
    world.slack.expect_ordered_request(HOOK_PATH).respond_with_data("down", status=500)
    for _ in range(slack.DEFAULT_RETRY.attempts - 1):
        world.slack.expect_ordered_request(HOOK_PATH).respond_with_data("down", status=500)
    first = run(world, audit(50, "r1", 0), 0)
    assert first.delivery_failed and first.summary()["delivery_failed"] is True
    assert len(world.sns_messages()) == 1  # SNS is another destination: it got it at once

    slack_ok(world)
    second = run(world, audit(50, "r2", 1), 1)
    late_post = world.slack_posts()[-1]
    assert "late: found 2026-03-02T09:00:00Z" in json.dumps(late_post)
    assert second.changes == () and len(second.late) == 1 and not second.delivery_failed
    assert world.sns_messages() == []  # SNS had accepted it: not sent twice

    run(world, audit(50, "r3", 2), 2)
    accepted = [request for request, answer in world.slack.log if answer.status_code == 200]
    assert len(accepted) == 1


def test_what_sns_refused_is_published_late_by_the_next_run(world: World) -> None:
    slack_ok(world)
    sns = world.session.client("sns")
    sns.delete_topic(TopicArn=world.settings.sns_topic_arn)
    first = run(world, audit(50, "r1", 0), 0)
    assert first.sns_error and first.sns_published == 0 and first.slack_posted

    topic = sns.create_topic(Name="ipaudit-warnings")["TopicArn"]
    queue_arn = world.session.client("sqs").get_queue_attributes(
        QueueUrl=world.queue_url, AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    second = run(world, audit(900, "r2", 1), 1)  # resolved meanwhile: both go out, in order
    messages = world.sns_messages()
    assert [m["MessageAttributes"]["change"]["Value"] for m in messages] == ["new", "resolved"]
    assert json.loads(messages[0]["Message"])["late"] is True
    assert json.loads(messages[1]["Message"])["late"] is False
    assert second.sns_published == 2 and second.sns_error is None
    run(world, audit(900, "r3", 2), 2)
    assert world.sns_messages() == []
    assert len(world.slack_posts()) == 2  # new, then resolved: each once
