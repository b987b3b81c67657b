"""Pending deliveries in DynamoDB (moto over HTTP): who may send an announcement, and when."""

from __future__ import annotations

from datetime import timedelta

from mypy_boto3_dynamodb import DynamoDBClient
from support.reports import T0, cluster, report, subnet

from ipaudit.alerts.lifecycle import AlertChange, alerting, stateless
from ipaudit.store.deliveries import LEASE, Delivery, Held, claim, delivered, put_items, release

TABLE = "ipaudit-test"


def pending_from(dynamodb: DynamoDBClient, run_id: str) -> Delivery:
    rep = report([cluster(subnets=[subnet(free=50)])], run_id=run_id)
    assert alerting(rep.findings)
    (change,) = stateless(rep)
    delivery = Delivery("slack", change, T0, run_id)
    dynamodb.transact_write_items(TransactItems=put_items(TABLE, [delivery], T0))
    return delivery


def test_the_committing_run_sends_its_own_and_others_wait_for_its_lease(
    dynamodb: DynamoDBClient,
) -> None:
    pending_from(dynamodb, "r1")
    assert len(claim(dynamodb, TABLE, ["slack"], run_id="r1", invocation="r1", now=T0).sending) == 1
    # An overlapping run while r1 may still be posting: not its to send, and it says whose.
    overlapping = claim(
        dynamodb, TABLE, ["slack"], run_id="r2", invocation="r2", now=T0 + timedelta(minutes=5)
    )
    assert overlapping.sending == []
    assert overlapping.held == [Held("slack", "r1", T0 + LEASE)]
    # A destination it does not use: never, and nothing to report either.
    other = claim(
        dynamodb, TABLE, ["sns"], run_id="r3", invocation="r3", now=T0 + timedelta(hours=1)
    )
    assert other.sending == [] and other.held == []


def test_after_the_lease_exactly_one_of_two_overlapping_runs_takes_it(
    dynamodb: DynamoDBClient,
) -> None:
    sent = pending_from(dynamodb, "r1")
    later = T0 + LEASE + timedelta(seconds=1)
    first = claim(dynamodb, TABLE, ["slack"], run_id="r2", invocation="r2", now=later)
    second = claim(dynamodb, TABLE, ["slack"], run_id="r3", invocation="r3", now=later)
    assert [d.late("r2") for d in first.sending] == [True] and second.sending == []
    assert first.sending[0].change == sent.change and first.sending[0].at == T0
    assert second.held == [Held("slack", "r2", later + LEASE)]


def test_a_delivered_announcement_is_never_sent_again(dynamodb: DynamoDBClient) -> None:
    delivery = pending_from(dynamodb, "r1")
    delivered(dynamodb, TABLE, [delivery])
    assert claim(dynamodb, TABLE, ["slack"], run_id="r1", invocation="r1", now=T0).sending == []
    later = claim(
        dynamodb, TABLE, ["slack"], run_id="r2", invocation="r2", now=T0 + timedelta(days=1)
    )
    assert later.sending == [] and later.held == []


def test_a_released_announcement_is_the_next_runs_at_once(dynamodb: DynamoDBClient) -> None:
    delivery = pending_from(dynamodb, "r1")
    release(dynamodb, TABLE, [delivery], invocation="r1", error="Slack answered 500", now=T0)
    soon = claim(
        dynamodb, TABLE, ["slack"], run_id="r2", invocation="r2", now=T0 + timedelta(seconds=1)
    )
    assert [d.change for d in soon.sending] == [delivery.change] and soon.held == []
    (item,) = dynamodb.scan(TableName=TABLE)["Items"]
    assert item["last_error"] == {"S": "Slack answered 500"} and item["failures"] == {"N": "1"}


def test_a_run_that_outlived_its_lease_cannot_release_what_another_run_took(
    dynamodb: DynamoDBClient,
) -> None:
    delivery = pending_from(dynamodb, "r1")
    later = T0 + LEASE + timedelta(seconds=1)
    assert (
        len(claim(dynamodb, TABLE, ["slack"], run_id="r2", invocation="r2", now=later).sending) == 1
    )
    release(dynamodb, TABLE, [delivery], invocation="r1", error="Slack answered 500", now=later)
    third = claim(
        dynamodb, TABLE, ["slack"], run_id="r3", invocation="r3", now=later + timedelta(seconds=1)
    )
    assert third.sending == [] and third.held == [Held("slack", "r2", later + LEASE)]


def test_a_findings_changes_go_out_in_version_order_whatever_the_clocks_said() -> None:
    from ipaudit.store.deliveries import in_commit_order

    rep = report([cluster(subnets=[subnet("subnet-a", free=50), subnet("subnet-b", free=50)])])
    a, b = (AlertChange("new", f) for f in sorted(rep.findings, key=lambda f: f.resource))
    resolved_a = AlertChange("resolved", a.finding)
    # r2's clock ran behind r1's: its later transition of subnet-a carries an earlier time.
    first = Delivery("slack", a, T0 + timedelta(minutes=2), "r1", version=1)
    other = Delivery("slack", b, T0 + timedelta(minutes=1), "r1", version=1)
    second = Delivery("slack", resolved_a, T0, "r2", version=2)
    assert in_commit_order([first, other, second]) == [first, other, second]
