"""Announcements not yet accepted by their destination: at-least-once delivery per channel.

Items (see docs/alerts.md):
- pending:  pk PENDING, sk <destination>#<time>#<finding id>#<change>
A transition's commit writes one pending item per destination in the same transaction as the
alert state, claimed by the committing run for `LEASE`. A destination's 2xx deletes it. A run
re-sends an item it finds pending only after claiming it: a conditional update on the claim it
read, so of two overlapping runs one sends it. A run whose destination refused an item records
the failure and ends its claim in one write, so the next run sends it at once; only an item whose
run died keeps its claim until the lease ends, and the next run after that sends it late.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import ClientError

from ipaudit.alerts.lifecycle import AlertChange
from ipaudit.report import Finding
from ipaudit.store.codec import epoch, from_item, key_time, parse_time, to_item
from ipaudit.store.records import dump, load
from ipaudit.store.runs import HISTORY_DAYS, query_items

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

Destination = Literal["slack", "sns"]
PARTITION = "PENDING"
# Longer than any run (a Lambda lives 15 minutes at most): a live run's claim is never taken.
LEASE = timedelta(minutes=15)
RELEASED = 0  # claimed_until of an item no run holds: the first run to see it takes it


@dataclass(frozen=True)
class Delivery:
    """One announcement for one destination, until that destination accepts it."""

    destination: Destination
    change: AlertChange
    at: datetime  # when the transition was committed
    run_id: str  # the run that committed it
    message: dict[str, Any] | None = None  # SNS: the message as first built (subject, body...)

    @property
    def sk(self) -> str:
        finding = self.change.finding
        return f"{self.destination}#{key_time(self.at)}#{finding.id}#{self.change.change}"

    def late(self, run_id: str) -> bool:
        """Sent by a later run than the one that found it."""
        return self.run_id != run_id


@dataclass(frozen=True)
class Held:
    """A pending announcement another run has claimed and may be sending now: not ours to send."""

    destination: Destination
    run_id: str  # the run holding it
    until: datetime  # when its claim ends, should that run die before delivering it


@dataclass(frozen=True)
class Claimed:
    sending: list[Delivery]  # this run's to send, oldest first
    held: list[Held]  # pending for a destination of this run, but held by a live other run


def put_items(
    table: str, deliveries: Iterable[Delivery], now: datetime
) -> list[TransactWriteItemTypeDef]:
    """The transaction items that make `deliveries` pending, claimed by the committing run."""
    return [
        {"Put": {"TableName": table, "Item": to_item(_item(d, d.run_id, now))}} for d in deliveries
    ]


def claim(
    client: DynamoDBClient,
    table: str,
    destinations: Sequence[Destination],
    *,
    run_id: str,
    now: datetime,
) -> Claimed:
    """What this run sends: its own pending items (a retry of the same run id included) and
    every other run's whose claim has ended or was released, claimed conditionally; and what a
    live other run holds."""
    items = query_items(
        client,
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues=to_item({":pk": PARTITION}),
        ConsistentRead=True,
    )
    sending: list[Delivery] = []
    held: list[Held] = []
    for item in items:
        seen = from_item(item)
        if seen["destination"] not in destinations:
            continue
        values: dict[str, Any] | None = seen
        if seen["claimed_by"] != run_id and not _live(seen, now):
            values = _take(client, table, seen, run_id, now)
        if values is None:
            continue  # delivered since we read it
        if values["claimed_by"] == run_id:
            sending.append(_delivery(values))
        elif _live(values, now):
            held.append(
                Held(
                    values["destination"],
                    values["claimed_by"],
                    datetime.fromtimestamp(values["claimed_until"], UTC),
                )
            )
        # Otherwise a run that took it first has released it already: the next run sends it.
    sending.sort(key=lambda d: d.at)
    return Claimed(sending, held)


def delivered(client: DynamoDBClient, table: str, deliveries: Iterable[Delivery]) -> None:
    """The destination accepted them: they are no longer pending."""
    for delivery in deliveries:
        client.delete_item(TableName=table, Key=to_item({"pk": PARTITION, "sk": delivery.sk}))


def release(
    client: DynamoDBClient,
    table: str,
    deliveries: Iterable[Delivery],
    *,
    run_id: str,
    error: str,
    now: datetime,
) -> None:
    """This run is done with them and their destination did not accept them: record why and
    end the claim in the same write, so the next run sends them without waiting for the lease.

    `error` is stored: it must hold no secret (Slack's errors never hold the URL)."""
    for delivery in deliveries:
        try:
            client.update_item(
                TableName=table,
                Key=to_item({"pk": PARTITION, "sk": delivery.sk}),
                UpdateExpression="SET claimed_until = :released, last_error = :error, "
                "failed_at = :now ADD failures :one",
                # A run that outlived its lease may have lost the item to another run.
                ConditionExpression="claimed_by = :me",
                ExpressionAttributeValues=to_item(
                    {
                        ":released": RELEASED,
                        ":error": error,
                        ":now": key_time(now),
                        ":one": 1,
                        ":me": run_id,
                    }
                ),
            )
        except ClientError as failure:
            if failure.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise


def _live(values: dict[str, Any], now: datetime) -> bool:
    claimed_until: int = values["claimed_until"]
    return claimed_until > epoch(now)


def _take(
    client: DynamoDBClient, table: str, values: dict[str, Any], run_id: str, now: datetime
) -> dict[str, Any] | None:
    """The item after trying to claim it: ours, another run's that was quicker, or None when it
    is gone (delivered)."""
    until = epoch(now + LEASE)
    try:
        client.update_item(
            TableName=table,
            Key=to_item({"pk": PARTITION, "sk": values["sk"]}),
            UpdateExpression="SET claimed_by = :me, claimed_until = :until",
            ConditionExpression="claimed_by = :seen_by AND claimed_until = :seen_until",
            ExpressionAttributeValues=to_item(
                {
                    ":me": run_id,
                    ":until": until,
                    ":seen_by": values["claimed_by"],
                    ":seen_until": values["claimed_until"],
                }
            ),
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            # With ALL_OLD, DynamoDB returns the item as the quicker run left it, if it exists.
            current = error.response.get("Item")
            return from_item(current) if isinstance(current, dict) else None
        raise
    return {**values, "claimed_by": run_id, "claimed_until": until}


def _item(delivery: Delivery, claimed_by: str, now: datetime) -> dict[str, Any]:
    change = delivery.change
    return {
        "pk": PARTITION,
        "sk": delivery.sk,
        "destination": delivery.destination,
        "change": change.change,
        "finding": dump(change.finding),
        "previous_severity": change.previous_severity,
        "previous_value": change.previous_value,
        "at": key_time(delivery.at),
        "run_id": delivery.run_id,
        "message": delivery.message,
        "claimed_by": claimed_by,
        "claimed_until": epoch(now + LEASE),
        # Undelivered for this long, an announcement is history, not news.
        "expires_at": epoch(delivery.at + timedelta(days=HISTORY_DAYS)),
    }


def _delivery(values: dict[str, Any]) -> Delivery:
    return Delivery(
        destination=values["destination"],
        change=AlertChange(
            values["change"],
            load(Finding, values["finding"]),
            values.get("previous_severity"),
            values.get("previous_value"),
        ),
        at=parse_time(values["at"]),
        run_id=values["run_id"],
        message=values.get("message"),
    )
