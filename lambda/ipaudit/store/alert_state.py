"""Open alerts' state and the log of alert messages, changed only through conditional writes.

Items (see docs/alerts.md):
- state:  pk ALERTS, sk <finding id>; no expiry while open, `expires_at` once resolved
- event:  pk ALERT#<finding id>, sk EVENT#<time>#<change>; gsi1 EVENTS / <time>#<finding id>
A transition writes both in one transaction conditioned on the state's version, so of two
overlapping or retried runs exactly one wins each transition, and only the winner posts.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ipaudit.alerts.lifecycle import AlertEvent, AlertState, Transition
from ipaudit.store.codec import from_item, to_item
from ipaudit.store.runs import (
    HISTORY_DAYS,
    finding_dict,
    finding_from,
    index_since,
    query_items,
)
from ipaudit.timestamps import epoch, key_time, parse_time

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import PutTypeDef, TransactWriteItemTypeDef


def load_states(client: DynamoDBClient, table: str) -> dict[str, AlertState]:
    """Every alert state (open and recently resolved), read consistently in one Query."""
    items = query_items(
        client,
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues=to_item({":pk": "ALERTS"}),
        ConsistentRead=True,
    )
    states = (_state(from_item(item)) for item in items)
    return {state.finding.id: state for state in states}


def commit(
    client: DynamoDBClient,
    table: str,
    transition: Transition,
    extra: Sequence[TransactWriteItemTypeDef] = (),
) -> bool:
    """Write the transition, its event and `extra` (its pending deliveries) in one transaction;
    False when another run changed the state first."""
    state = transition.state
    values: dict[str, Any] = {
        "pk": "ALERTS",
        "sk": state.finding.id,
        "finding": finding_dict(state.finding),
        "status": state.status,
        "opened_at": key_time(state.opened_at),
        "notified_at": key_time(state.notified_at),
        "notified_severity": state.notified_severity,
        "notified_value": state.notified_value,
        "run_id": state.run_id,
        "version": state.version,
    }
    if state.status != "open":  # resolved or muted: kept as long as the history, then gone
        values["expires_at"] = epoch(state.notified_at + timedelta(days=HISTORY_DAYS))
    if transition.expected_version is None:
        condition = "attribute_not_exists(pk)"
        condition_values = None
    else:
        condition = "version = :expected"
        condition_values = to_item({":expected": transition.expected_version})
    put_state: PutTypeDef = {
        "TableName": table,
        "Item": to_item(values),
        "ConditionExpression": condition,
    }
    if condition_values is not None:
        put_state["ExpressionAttributeValues"] = condition_values
    at = key_time(state.notified_at)
    change = transition.alert.change
    event = {
        "pk": f"ALERT#{state.finding.id}",
        "sk": f"EVENT#{at}#{change}",
        "gsi1pk": "EVENTS",
        "gsi1sk": f"{at}#{state.finding.id}",
        "at": at,
        "change": change,
        "finding": finding_dict(transition.alert.finding),
        "run_id": state.run_id,
        "expires_at": epoch(state.notified_at + timedelta(days=HISTORY_DAYS)),
    }
    try:
        client.transact_write_items(
            TransactItems=[
                {"Put": put_state},
                {"Put": {"TableName": table, "Item": to_item(event)}},
                *extra,
            ]
        )
    except ClientError as error:
        if error.response["Error"]["Code"] == "TransactionCanceledException" and _lost_race(error):
            return False
        raise
    return True


def events_since(client: DynamoDBClient, table: str, since: datetime) -> list[AlertEvent]:
    """Every alert message from `since` on, oldest first (one Query on the index)."""
    events = []
    for item in index_since(client, table, "EVENTS", since):
        values = from_item(item)
        events.append(
            AlertEvent(
                at=parse_time(values["at"]),
                change=values["change"],
                finding=finding_from(values["finding"]),
                run_id=values["run_id"],
            )
        )
    return events


def _state(values: dict[str, Any]) -> AlertState:
    return AlertState(
        finding=finding_from(values["finding"]),
        status=values["status"],
        opened_at=parse_time(values["opened_at"]),
        notified_at=parse_time(values["notified_at"]),
        notified_severity=values["notified_severity"],
        notified_value=values.get("notified_value"),
        run_id=values["run_id"],
        version=values["version"],
    )


def _lost_race(error: ClientError) -> bool:
    reasons: list[Any] = error.response.get("CancellationReasons", [])
    if reasons:
        return any(reason.get("Code") == "ConditionalCheckFailed" for reason in reasons)
    return "ConditionalCheckFailed" in str(error)
