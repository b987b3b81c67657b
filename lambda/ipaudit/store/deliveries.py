"""Announcements not yet accepted by their destination: at-least-once delivery per channel.

Items (see docs/alerts.md):
- pending:  pk PENDING, sk <destination>#<time>#<finding id>#<change>
A transition's commit writes one pending item per destination in the same transaction as the
alert state, claimed by the committing run for `LEASE`. A destination's 2xx deletes it. A run
re-sends an item it finds pending only after claiming it: a conditional update on the claim it
read, so of two overlapping runs one sends it. An item whose run died keeps its claim until the
lease ends; the next run then claims it and sends it late.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
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
) -> list[Delivery]:
    """What this run sends: its own pending items (a retry of the same run id included) and
    every other run's whose lease has ended, claimed conditionally; oldest first."""
    items = query_items(
        client,
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues=to_item({":pk": PARTITION}),
        ConsistentRead=True,
    )
    mine: list[Delivery] = []
    for item in items:
        values = from_item(item)
        if values["destination"] not in destinations:
            continue
        theirs = values["claimed_by"] != run_id
        if theirs and (
            values["claimed_until"] > epoch(now) or not _take(client, table, values, run_id, now)
        ):
            continue  # another run is sending it, or took it first
        mine.append(_delivery(values))
    mine.sort(key=lambda d: d.at)
    return mine


def delivered(client: DynamoDBClient, table: str, deliveries: Iterable[Delivery]) -> None:
    """The destination accepted them: they are no longer pending."""
    for delivery in deliveries:
        client.delete_item(TableName=table, Key=to_item({"pk": PARTITION, "sk": delivery.sk}))


def _take(
    client: DynamoDBClient, table: str, values: dict[str, Any], run_id: str, now: datetime
) -> bool:
    try:
        client.update_item(
            TableName=table,
            Key=to_item({"pk": PARTITION, "sk": values["sk"]}),
            UpdateExpression="SET claimed_by = :me, claimed_until = :until",
            ConditionExpression="claimed_by = :seen_by AND claimed_until = :seen_until",
            ExpressionAttributeValues=to_item(
                {
                    ":me": run_id,
                    ":until": epoch(now + LEASE),
                    ":seen_by": values["claimed_by"],
                    ":seen_until": values["claimed_until"],
                }
            ),
        )
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False  # gone (delivered) or claimed by an overlapping run
        raise
    return True


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
