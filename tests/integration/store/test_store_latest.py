"""The newest completely stored run (moto over HTTP): what serve-metrics serves at start."""

from __future__ import annotations

from datetime import timedelta

import boto3
from mypy_boto3_dynamodb import DynamoDBClient
from support.reports import T0, cluster, report, subnet

from ipaudit.store.latest import latest_run
from ipaudit.store.runs import store_run
from ipaudit.store.table import create_table
from ipaudit.timestamps import key_time

TABLE = "ipaudit-latest"


def test_the_newest_complete_run_is_read_back_whole_and_none_when_there_is_none(
    aws: boto3.Session,
) -> None:
    dynamodb: DynamoDBClient = aws.client("dynamodb")
    create_table(dynamodb, TABLE)
    assert latest_run(dynamodb, TABLE) is None

    older = report([cluster(subnets=[subnet(free=50)])], run_id="r-old", at=T0)
    newer = report([cluster(subnets=[subnet(free=40)])], run_id="r-new", at=T0 + timedelta(hours=1))
    for stored in (newer, older):  # stored out of order: the time decides, not the write
        store_run(dynamodb, TABLE, stored)
    # A later run cut short: its marker, no run item. Readers of whole runs ignore it.
    later = key_time(T0 + timedelta(hours=2))
    dynamodb.put_item(
        TableName=TABLE,
        Item={"pk": {"S": "RUN#r-cut"}, "sk": {"S": "STARTED"}, "generated_at": {"S": later}},
    )

    assert latest_run(dynamodb, TABLE) == newer
