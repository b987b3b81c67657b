"""The newest completely stored run: what `serve-metrics` serves from the moment it starts,
until its own first audit ends, so a restart does not empty every series (and resolve every
alert) for the length of an audit."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ipaudit.report import Report
from ipaudit.store.codec import from_item, to_item
from ipaudit.store.runs import load_run, query_items
from ipaudit.store.table import GSI

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def latest_run(client: DynamoDBClient, table: str) -> Report | None:
    """The last run whose run item exists (it is written last: a run cut short has none), read
    back whole; None when the table holds no run."""
    newest_first = query_items(
        client,
        TableName=table,
        IndexName=GSI,
        KeyConditionExpression="gsi1pk = :pk",
        ExpressionAttributeValues=to_item({":pk": "RUNS"}),
        ScanIndexForward=False,
        Limit=1,
    )
    for item in newest_first:
        return load_run(client, table, from_item(item)["pk"].removeprefix("RUN#"))
    return None
