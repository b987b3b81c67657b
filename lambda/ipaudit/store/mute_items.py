"""Mutes in the table: pk MUTES, sk <mute id>, expiring through `expires_at` at the mute's end.

DynamoDB's TTL deletes an expired item within days, not at once: reads drop expired mutes
themselves (alerts/mutes.Mute.active).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ipaudit.alerts.mutes import Mute
from ipaudit.errors import InputError
from ipaudit.store.codec import from_item, to_item
from ipaudit.store.runs import query_items
from ipaudit.timestamps import epoch, key_time, parse_time

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

PARTITION = "MUTES"


def put_mute(client: DynamoDBClient, table: str, mute: Mute) -> None:
    """Store the mute; muting the same finding or pattern again replaces the earlier mute."""
    values: dict[str, Any] = {
        "pk": PARTITION,
        "sk": mute.id,
        "reason": mute.reason,
        "mute_expires_at": key_time(mute.expires_at),
        "created_by": mute.created_by,
        "created_at": None if mute.created_at is None else key_time(mute.created_at),
        "finding_id": mute.finding_id,
        "pattern": None if mute.pattern is None else dict(mute.pattern),
        "expires_at": epoch(mute.expires_at),
    }
    try:
        client.put_item(TableName=table, Item=to_item(values))
    except ClientError as error:
        if error.response["Error"]["Code"] == "ResourceNotFoundException":
            raise InputError(f"IPAUDIT_TABLE: table {table!r} does not exist") from None
        raise


def load_mutes(client: DynamoDBClient, table: str) -> list[Mute]:
    """Every stored mute, expired ones included until TTL removes them."""
    items = query_items(
        client,
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues=to_item({":pk": PARTITION}),
        ConsistentRead=True,
    )
    return [_mute(from_item(item)) for item in items]


def delete_mute(client: DynamoDBClient, table: str, mute_id: str) -> bool:
    """False when there was no such mute."""
    try:
        client.delete_item(
            TableName=table,
            Key=to_item({"pk": PARTITION, "sk": mute_id}),
            ConditionExpression="attribute_exists(pk)",
        )
    except ClientError as error:
        code = error.response["Error"]["Code"]
        if code == "ConditionalCheckFailedException":
            return False
        if code == "ResourceNotFoundException":
            raise InputError(f"IPAUDIT_TABLE: table {table!r} does not exist") from None
        raise
    return True


def _mute(values: dict[str, Any]) -> Mute:
    created_at = values.get("created_at")
    return Mute(
        id=values["sk"],
        reason=values["reason"],
        expires_at=parse_time(values["mute_expires_at"]),
        created_by=values["created_by"],
        created_at=None if created_at is None else parse_time(created_at),
        source="table",
        finding_id=values.get("finding_id"),
        pattern=values.get("pattern"),
    )
