"""Alert state under concurrency: conditional writes decide which run announces a change."""

from __future__ import annotations

from datetime import timedelta

from mypy_boto3_dynamodb import DynamoDBClient
from support.reports import T0, cluster, report, subnet

from ipaudit.alerts.lifecycle import plan
from ipaudit.store.alert_state import commit, events_since, load_states

TABLE = "ipaudit-alerts"


def test_two_overlapping_runs_announce_a_new_alert_once(dynamodb: DynamoDBClient) -> None:
    run_a = report([cluster(subnets=[subnet(free=50)])], run_id="a")
    run_b = report([cluster(subnets=[subnet(free=50)])], run_id="b")
    # Both read the (empty) state before either writes.
    (from_a,) = plan(run_a, {}, now=T0, renotify_hours=24)
    (from_b,) = plan(run_b, {}, now=T0, renotify_hours=24)
    assert commit(dynamodb, TABLE, from_a) is True
    assert commit(dynamodb, TABLE, from_b) is False

    states = load_states(dynamodb, TABLE)
    (state,) = states.values()
    assert state.run_id == "a" and state.status == "open" and state.version == 1
    assert state.finding == run_a.findings[0]


def test_a_stale_version_loses_and_events_record_the_winners(dynamodb: DynamoDBClient) -> None:
    first = report([cluster(subnets=[subnet(free=200)])], run_id="r1")
    (new,) = plan(first, {}, now=T0, renotify_hours=24)
    commit(dynamodb, TABLE, new)
    states = load_states(dynamodb, TABLE)
    later = T0 + timedelta(hours=1)
    fixed = report([cluster(subnets=[subnet(free=900)])], run_id="r2", at=later)
    (resolve,) = plan(fixed, states, now=later, renotify_hours=24)
    assert commit(dynamodb, TABLE, resolve) is True
    assert commit(dynamodb, TABLE, resolve) is False  # same expected version: already moved on

    events = events_since(dynamodb, TABLE, T0 - timedelta(days=1))
    assert [(e.change, e.run_id) for e in events] == [("new", "r1"), ("resolved", "r2")]
    (state,) = load_states(dynamodb, TABLE).values()
    assert state.status == "resolved"
    item = dynamodb.get_item(
        TableName=TABLE, Key={"pk": {"S": "ALERTS"}, "sk": {"S": state.finding.id}}
    )
    assert "expires_at" in item["Item"]  # open alerts never expire; resolved ones do
