"""Run history in DynamoDB (moto over HTTP): the layout's queries, idempotent writes, TTL."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import boto3
import pytest
from mypy_boto3_dynamodb import DynamoDBClient
from unit.alerts.factories import T0, cluster, report, subnet

from ipaudit.errors import InputError
from ipaudit.report import LeakedEni
from ipaudit.store.runs import cluster_history, cluster_runs_since, store_run
from ipaudit.store.table import create_table

TABLE = "ipaudit-test"


@pytest.fixture
def dynamodb(aws: boto3.Session) -> DynamoDBClient:
    client = aws.client("dynamodb")
    create_table(client, TABLE)
    return client


def test_init_table_creates_keys_index_and_ttl_once(aws: boto3.Session) -> None:
    client = aws.client("dynamodb")
    assert create_table(client, TABLE) is True
    assert create_table(client, TABLE) is False
    table = client.describe_table(TableName=TABLE)["Table"]
    assert {k["AttributeName"] for k in table["KeySchema"]} == {"pk", "sk"}
    assert table["GlobalSecondaryIndexes"][0]["IndexName"] == "gsi1"
    ttl = client.describe_time_to_live(TableName=TABLE)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}


def test_a_cluster_history_reads_back_subnets_summary_and_findings(
    dynamodb: DynamoDBClient,
) -> None:
    leak = LeakedEni("eni-1", "subnet-a", 12)
    for day in range(3):
        free = 300 - 100 * day
        rep = report(
            [cluster(subnets=[subnet(free=free)], leaked=[leak])],
            run_id=f"r{day}",
            at=T0 + timedelta(days=day),
        )
        assert store_run(dynamodb, TABLE, rep) is True

    runs = cluster_history(dynamodb, TABLE, "111111111111", "eu-west-1", "prod", T0 + timedelta(1))
    assert [r.run_id for r in runs] == ["r1", "r2"]
    latest = runs[-1]
    assert latest.generated_at == T0 + timedelta(days=2)
    assert latest.cluster.subnets == [subnet(free=100)]
    assert latest.cluster.leaked_enis == [leak]
    assert latest.cluster.recommendation is not None
    assert latest.cluster.recommendation.ips_returned == 390
    assert latest.cluster.ips_held == 450 and latest.cluster.pods == 30
    assert {f.kind for f in latest.findings} == {"subnet_headroom", "leaked_enis"}


def test_every_clusters_runs_come_from_one_index_query(dynamodb: DynamoDBClient) -> None:
    rep = report([cluster("a"), cluster("b", account_id="222222222222")], run_id="r1")
    store_run(dynamodb, TABLE, rep)
    runs = cluster_runs_since(dynamodb, TABLE, T0 - timedelta(days=7))
    assert sorted(r.cluster.key for r in runs) == [
        "111111111111/eu-west-1/a",
        "222222222222/eu-west-1/b",
    ]


def test_a_retried_run_writes_nothing_twice(dynamodb: DynamoDBClient) -> None:
    rep = report([cluster(subnets=[subnet(free=100)])], run_id="r1")
    assert store_run(dynamodb, TABLE, rep) is True
    before = dynamodb.scan(TableName=TABLE)["Items"]
    # The retry starts a minute later: its keys must still be the first attempt's.
    retry = replace(rep, generated_at=(T0 + timedelta(minutes=1)).isoformat())
    assert store_run(dynamodb, TABLE, retry) is False
    after = dynamodb.scan(TableName=TABLE)["Items"]
    assert sorted(map(str, after)) == sorted(map(str, before))


def test_history_expires_after_ninety_days(dynamodb: DynamoDBClient) -> None:
    store_run(dynamodb, TABLE, report([cluster()], run_id="r1"))
    items = dynamodb.scan(TableName=TABLE)["Items"]
    expiry = T0 + timedelta(days=90)
    assert {int(item["expires_at"]["N"]) for item in items} == {int(expiry.timestamp())}
    assert {item["pk"]["S"].split("#")[0] for item in items} == {"RUN", "CLUSTER", "NODES"}


def test_a_missing_table_is_one_clear_error(aws: boto3.Session) -> None:
    with pytest.raises(InputError, match="IPAUDIT_TABLE: table 'nope' does not exist"):
        store_run(aws.client("dynamodb"), "nope", report([cluster()]))
