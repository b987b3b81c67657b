"""Run history in DynamoDB (moto over HTTP): the layout's queries, idempotent writes, TTL."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from mypy_boto3_dynamodb import DynamoDBClient
from support.reports import T0, cluster, report, subnet

from ipaudit.errors import InputError
from ipaudit.report import Coverage, LeakedEni
from ipaudit.snapshot import InstanceTypeLimits
from ipaudit.store.runs import cluster_history, cluster_runs_since, load_run, store_run
from ipaudit.store.table import create_table

TABLE = "ipaudit-test"


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


def test_a_stored_run_reads_back_equal_to_the_report_field_for_field(
    dynamodb: DynamoDBClient,
) -> None:
    limits = InstanceTypeLimits("m5.8xlarge", 8, 30, 32, "nitro")
    rep = report(
        [
            replace(
                cluster("a", subnets=[subnet(free=40)], leaked=[LeakedEni("eni-1", "subnet-a", 3)]),
                instance_types={"m5.8xlarge": limits},
                vpc_cni_addon="v1.19.0-eksbuild.1",
                cni={"WARM_IP_TARGET": "4"},
            ),
            cluster("b", account_id="222222222222"),
        ],
        run_id="r1",
    )
    rep = replace(
        rep, coverage=[*rep.coverage, Coverage("333333333333", "eu-west-1", None, "error", "x")]
    )
    assert store_run(dynamodb, TABLE, rep) is True
    assert load_run(dynamodb, TABLE, "r1") == rep
    assert load_run(dynamodb, TABLE, "r2") is None


def test_a_half_written_run_is_completed_by_its_retry(
    dynamodb: DynamoDBClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    rep = report([cluster("a"), cluster("b")], run_id="r1")
    real_put = dynamodb.put_item
    puts: list[str] = []

    def throttled_after_two(**kwargs: Any) -> Any:
        puts.append(kwargs["Item"]["pk"]["S"])
        if len(puts) == 3:
            raise ClientError(
                {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}},
                "PutItem",
            )
        return real_put(**kwargs)

    monkeypatch.setattr(dynamodb, "put_item", throttled_after_two)
    with pytest.raises(ClientError):
        store_run(dynamodb, TABLE, rep)
    # No run item yet: readers see no run, and the marker says it was started.
    assert load_run(dynamodb, TABLE, "r1") is None
    monkeypatch.setattr(dynamodb, "put_item", real_put)
    retry = replace(rep, generated_at=(T0 + timedelta(minutes=5)).isoformat())
    assert store_run(dynamodb, TABLE, retry) is True
    stored = load_run(dynamodb, TABLE, "r1")
    assert stored is not None and stored.clusters == rep.clusters
    keys = [(i["pk"]["S"], i["sk"]["S"]) for i in dynamodb.scan(TableName=TABLE)["Items"]]
    # marker, run item, two clusters, two node items: each once, all at the first attempt's time
    assert len(keys) == 6
    assert all(T0.strftime("%Y-%m-%dT%H:%M:%SZ") in sk for pk, sk in keys if pk[:3] != "RUN")
