"""Announcements not yet accepted by their destination: at-least-once delivery per channel.

Items (see docs/alerts.md):
- pending:  pk PENDING, sk <destination>#<time>#<finding id>#<change>
A transition's commit writes one pending item per destination in the same transaction as the
alert state, claimed by the committing *invocation* for `LEASE`. Claims name the invocation, not
the run id: two invocations of one scheduled run (EventBridge delivers at least once) share the
run id, and only the one that committed an item may send it. A destination's 2xx deletes it. An
invocation sends an item it finds pending only after claiming it: a conditional update on the
claim it read, so of two overlapping invocations one sends it. An invocation whose destination
refused an item records the failure and ends its claim in one write, so the next run sends it at
once; only an item whose invocation died keeps its claim until the lease ends, and the next run
after that sends it, marked late.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from ipaudit.alerts.lifecycle import AlertChange
from ipaudit.report import Finding
from ipaudit.report_codec import decode, encode
from ipaudit.store.codec import from_item, to_item
from ipaudit.store.runs import HISTORY_DAYS, query_items
from ipaudit.timestamps import epoch, key_time, parse_time

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

# Security Hub deliveries are never stored: it imports the findings' whole state every run.
Destination = Literal["slack", "sns", "securityhub"]
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
    # The alert state's version this change wrote: a finding's changes in the order committed,
    # whatever the clocks of the runs that committed them said.
    version: int = 0
    # The invocation that committed it; "" (items written before invocations were told apart)
    # means the run id.
    invocation: str = ""

    @property
    def sk(self) -> str:
        finding = self.change.finding
        return f"{self.destination}#{key_time(self.at)}#{finding.id}#{self.change.change}"

    @property
    def committed_by(self) -> str:
        return self.invocation or self.run_id

    def late(self, invocation: str) -> bool:
        """Sent by another invocation than the one that committed it: a later run, or a retry
        of the same run (which may be re-sending what a destination already accepted)."""
        return self.committed_by != invocation


def in_commit_order(deliveries: Iterable[Delivery]) -> list[Delivery]:
    """Oldest first, and each finding's changes per destination in the order their transitions
    were committed (by state version), so the last one a destination shows is the current state.
    """
    by_time = sorted(deliveries, key=lambda d: (d.at, d.version, d.sk))

    def thread(delivery: Delivery) -> tuple[str, str]:
        return delivery.destination, delivery.change.finding.id

    threads: dict[tuple[str, str], list[Delivery]] = defaultdict(list)
    for delivery in by_time:
        threads[thread(delivery)].append(delivery)
    # Each finding keeps the places it has in time order, filled in version order.
    ordered: dict[tuple[str, str], Iterator[Delivery]] = {
        key: iter(sorted(group, key=lambda d: d.version)) for key, group in threads.items()
    }
    return [next(ordered[thread(delivery)]) for delivery in by_time]


@dataclass(frozen=True)
class Held:
    """A pending announcement another run has claimed and may be sending now: not ours to send."""

    destination: Destination
    run_id: str  # the run holding it (possibly another invocation of this very run)
    until: datetime  # when its claim ends, should that run die before delivering it


@dataclass(frozen=True)
class Claimed:
    sending: list[Delivery]  # this invocation's to send, in commit order (`in_commit_order`)
    held: list[Held]  # pending for a destination of this run, but held by a live other run


def put_items(
    table: str, deliveries: Iterable[Delivery], now: datetime
) -> list[TransactWriteItemTypeDef]:
    """The transaction items that make `deliveries` pending, claimed by the committing
    invocation."""
    return [
        {"Put": {"TableName": table, "Item": to_item(_item(d, d.committed_by, now))}}
        for d in deliveries
    ]


def claim(
    client: DynamoDBClient,
    table: str,
    destinations: Sequence[Destination],
    *,
    run_id: str,
    invocation: str,
    now: datetime,
) -> Claimed:
    """What this invocation sends: the pending items it committed, and every other one whose
    claim has ended or was released, claimed conditionally; and what a live other invocation
    holds (one of another run, or of this run: a duplicated or overlapping retry)."""
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
        if seen["claimed_by"] != invocation and not _live(seen, now):
            values = _take(client, table, seen, run_id, invocation, now)
        if values is None:
            continue  # delivered since we read it
        if values["claimed_by"] == invocation:
            sending.append(_delivery(values))
        elif _live(values, now):
            held.append(
                Held(
                    values["destination"],
                    values.get("claimed_run") or values["claimed_by"],
                    datetime.fromtimestamp(values["claimed_until"], UTC),
                )
            )
        # Otherwise a run that took it first has released it already: the next run sends it.
    return Claimed(in_commit_order(sending), held)


@dataclass(frozen=True)
class Unwritten:
    """Writes about deliveries that failed: which, and the first error (the rest were tried)."""

    deliveries: list[Delivery]
    error: Exception | None = None


def delivered(client: DynamoDBClient, table: str, deliveries: Iterable[Delivery]) -> Unwritten:
    """The destination accepted them: they are no longer pending. Every one is tried, whatever
    happens to the others: an unmarked delivery may be sent once more after the lease."""
    return _each(
        deliveries,
        lambda d: client.delete_item(TableName=table, Key=to_item({"pk": PARTITION, "sk": d.sk})),
    )


def _each(deliveries: Iterable[Delivery], write: Callable[[Delivery], object]) -> Unwritten:
    failed: list[Delivery] = []
    first: Exception | None = None
    for delivery in deliveries:
        try:
            write(delivery)
        except (ClientError, BotoCoreError) as error:
            failed.append(delivery)
            first = first or error
    return Unwritten(failed, first)


def release(
    client: DynamoDBClient,
    table: str,
    deliveries: Iterable[Delivery],
    *,
    invocation: str,
    error: str,
    now: datetime,
) -> Unwritten:
    """This invocation is done with them and their destination did not accept them (or the
    run could not finish committing): record why and end the claim in the same write, so the
    next run sends them without waiting for the lease. Every one is tried; one whose write
    failed waits for the lease.

    `error` is stored: it must hold no secret (Slack's errors never hold the URL)."""

    def release_one(delivery: Delivery) -> None:
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
                        ":me": invocation,
                    }
                ),
            )
        except ClientError as failure:
            if failure.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    return _each(deliveries, release_one)


def _live(values: dict[str, Any], now: datetime) -> bool:
    claimed_until: int = values["claimed_until"]
    return claimed_until > epoch(now)


def _take(
    client: DynamoDBClient,
    table: str,
    values: dict[str, Any],
    run_id: str,
    invocation: str,
    now: datetime,
) -> dict[str, Any] | None:
    """The item after trying to claim it: ours, another invocation's that was quicker, or None
    when it is gone (delivered)."""
    until = epoch(now + LEASE)
    try:
        client.update_item(
            TableName=table,
            Key=to_item({"pk": PARTITION, "sk": values["sk"]}),
            UpdateExpression="SET claimed_by = :me, claimed_run = :run, claimed_until = :until",
            ConditionExpression="claimed_by = :seen_by AND claimed_until = :seen_until",
            ExpressionAttributeValues=to_item(
                {
                    ":me": invocation,
                    ":run": run_id,
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
    return {**values, "claimed_by": invocation, "claimed_run": run_id, "claimed_until": until}


def _item(delivery: Delivery, claimed_by: str, now: datetime) -> dict[str, Any]:
    change = delivery.change
    return {
        "pk": PARTITION,
        "sk": delivery.sk,
        "destination": delivery.destination,
        "change": change.change,
        "finding": encode(change.finding),
        "previous_severity": change.previous_severity,
        "previous_value": change.previous_value,
        "at": key_time(delivery.at),
        "run_id": delivery.run_id,
        "invocation": delivery.committed_by,
        "version": delivery.version,
        "message": delivery.message,
        "claimed_by": claimed_by,
        "claimed_run": delivery.run_id,
        "claimed_until": epoch(now + LEASE),
        # Undelivered for this long, an announcement is history, not news.
        "expires_at": epoch(delivery.at + timedelta(days=HISTORY_DAYS)),
    }


def _delivery(values: dict[str, Any]) -> Delivery:
    return Delivery(
        destination=values["destination"],
        change=AlertChange(
            values["change"],
            decode(Finding, values["finding"]),
            values.get("previous_severity"),
            values.get("previous_value"),
        ),
        at=parse_time(values["at"]),
        run_id=values["run_id"],
        message=values.get("message"),
        version=int(values.get("version", 0)),
        invocation=values.get("invocation", ""),
    )
