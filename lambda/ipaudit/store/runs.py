"""Each audit run's history: per cluster the summary, every subnet, every node; the coverage.

Items (see docs/alerts.md):
- run:          pk RUN#<run id>, sk RUN; gsi1 RUNS / <time>#<run id>
- cluster run:  pk CLUSTER#<account>#<region>#<cluster>, sk RUN#<time>#<run id>;
                gsi1 CLUSTER_RUNS / <time>#<account>#<region>#<cluster>
- nodes:        pk NODES#<account>#<region>#<cluster>, sk <time>#<run id>#<chunk>
All expire through `expires_at`. Every put is conditional on the item being absent, so a retried
run writes nothing twice; a retry reuses the first attempt's timestamp so its keys match.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ipaudit.errors import InputError
from ipaudit.report import (
    ClusterReport,
    Finding,
    LeakedEni,
    Recommendation,
    Report,
    SubnetChange,
    SubnetReport,
)
from ipaudit.store.codec import epoch, from_item, key_time, parse_time, to_item
from ipaudit.store.table import GSI

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

HISTORY_DAYS = 90
_NODES_PER_ITEM = 500  # keeps a node item far below DynamoDB's 400 KB


@dataclass(frozen=True)
class StoredClusterRun:
    """One cluster as one run saw it (nodes are stored apart and not loaded here)."""

    run_id: str
    generated_at: datetime
    cluster: ClusterReport
    findings: list[Finding]


def cluster_pk(account_id: str, region: str, cluster: str) -> str:
    return f"CLUSTER#{account_id}#{region}#{cluster}"


def store_run(
    client: DynamoDBClient, table: str, report: Report, *, retention_days: int = HISTORY_DAYS
) -> bool:
    """Write the run; False when an earlier attempt of the same run id had already written it."""
    generated = parse_time(report.generated_at)
    clusters = {(c.account_id, c.region, c.name) for c in report.clusters}
    expires = epoch(generated + timedelta(days=retention_days))
    run_item = {
        "pk": f"RUN#{report.run_id}",
        "sk": "RUN",
        "gsi1pk": "RUNS",
        "gsi1sk": f"{key_time(generated)}#{report.run_id}",
        "run_id": report.run_id,
        "generated_at": key_time(generated),
        "clusters": [cluster.key for cluster in report.clusters],
        "coverage": [dataclasses.asdict(entry) for entry in report.coverage],
        "findings": [finding_dict(f) for f in report.findings if _cluster_key(f) not in clusters],
        "expires_at": expires,
    }
    first = _put_new(client, table, run_item)
    if not first:
        earlier = client.get_item(
            TableName=table,
            Key=to_item({"pk": run_item["pk"], "sk": "RUN"}),
            ConsistentRead=True,
        )
        generated = parse_time(from_item(earlier["Item"])["generated_at"])
    stamp = key_time(generated)
    # Puts after the run item complete whatever an interrupted first attempt left unwritten.
    for cluster in report.clusters:
        _put_new(client, table, _cluster_item(report, cluster, stamp, expires))
        for index, start in enumerate(range(0, len(cluster.nodes), _NODES_PER_ITEM)):
            nodes = cluster.nodes[start : start + _NODES_PER_ITEM]
            _put_new(
                client,
                table,
                {
                    "pk": f"NODES#{cluster.key.replace('/', '#')}",
                    "sk": f"{stamp}#{report.run_id}#{index:04d}",
                    "run_id": report.run_id,
                    "nodes": [dataclasses.asdict(node) for node in nodes],
                    "expires_at": expires,
                },
            )
    return first


def cluster_history(
    client: DynamoDBClient, table: str, account_id: str, region: str, cluster: str, since: datetime
) -> list[StoredClusterRun]:
    """One cluster's runs from `since` on, oldest first (one Query)."""
    items = query_items(
        client,
        TableName=table,
        KeyConditionExpression="pk = :pk AND sk BETWEEN :from AND :to",
        ExpressionAttributeValues=to_item(
            {
                ":pk": cluster_pk(account_id, region, cluster),
                ":from": f"RUN#{key_time(since)}",
                ":to": "RUN#~",
            }
        ),
    )
    return [_stored_run(item) for item in items]


def cluster_runs_since(
    client: DynamoDBClient, table: str, since: datetime
) -> list[StoredClusterRun]:
    """Every cluster's runs from `since` on, oldest first (one Query on the index)."""
    return [_stored_run(item) for item in index_since(client, table, "CLUSTER_RUNS", since)]


def finding_dict(finding: Finding) -> dict[str, Any]:
    return dataclasses.asdict(finding)


def finding_from(values: dict[str, Any]) -> Finding:
    names = {f.name for f in dataclasses.fields(Finding)}
    return Finding(**{key: value for key, value in values.items() if key in names})


def _cluster_key(finding: Finding) -> tuple[str, str, str | None]:
    return (finding.account_id, finding.region, finding.cluster)


def _cluster_item(
    report: Report, cluster: ClusterReport, stamp: str, expires: int
) -> dict[str, Any]:
    summary = dataclasses.asdict(cluster)
    del summary["nodes"]
    return {
        "pk": cluster_pk(cluster.account_id, cluster.region, cluster.name),
        "sk": f"RUN#{stamp}#{report.run_id}",
        "gsi1pk": "CLUSTER_RUNS",
        "gsi1sk": f"{stamp}#{cluster.account_id}#{cluster.region}#{cluster.name}",
        "run_id": report.run_id,
        "generated_at": stamp,
        "node_count": len(cluster.nodes),
        "cluster": summary,
        "findings": [
            finding_dict(f)
            for f in report.findings
            if _cluster_key(f) == (cluster.account_id, cluster.region, cluster.name)
        ],
        "expires_at": expires,
    }


def _stored_run(item: dict[str, Any]) -> StoredClusterRun:
    values = from_item(item)
    summary = values["cluster"]
    recommendation = summary.get("recommendation")
    cluster = ClusterReport(
        account_id=summary["account_id"],
        region=summary["region"],
        name=summary["name"],
        vpc_id=summary["vpc_id"],
        cni=summary["cni"],
        subnets=[SubnetReport(**subnet) for subnet in summary["subnets"]],
        nodes=[],
        leaked_enis=[LeakedEni(**eni) for eni in summary["leaked_enis"]],
        ips_held=summary["ips_held"],
        pods=summary["pods"],
        warm_ips=summary["warm_ips"],
        recommendation=None if recommendation is None else _recommendation(recommendation),
        network_mode=summary.get("network_mode", "vpc-cni"),
        fargate_pods=summary.get("fargate_pods", 0),
    )
    return StoredClusterRun(
        run_id=values["run_id"],
        generated_at=parse_time(values["generated_at"]),
        cluster=cluster,
        findings=[finding_from(f) for f in values["findings"]],
    )


def _recommendation(stored: dict[str, Any]) -> Recommendation:
    subnets = [SubnetChange(**subnet) for subnet in stored.get("subnets", [])]
    return Recommendation(**{**stored, "subnets": subnets})


def _put_new(client: DynamoDBClient, table: str, values: dict[str, Any]) -> bool:
    try:
        client.put_item(
            TableName=table,
            Item=to_item(values),
            ConditionExpression="attribute_not_exists(pk)",
        )
    except ClientError as error:
        code = error.response["Error"]["Code"]
        if code == "ConditionalCheckFailedException":
            return False
        if code == "ResourceNotFoundException":
            raise InputError(
                f"IPAUDIT_TABLE: table {table!r} does not exist (create it with "
                "`ipaudit init-table` or deploy the stack)"
            ) from None
        raise
    return True


def index_since(
    client: DynamoDBClient, table: str, partition: str, since: datetime
) -> Iterator[dict[str, Any]]:
    """The index's items of one partition whose time-led sort key is `since` or later."""
    return query_items(
        client,
        TableName=table,
        IndexName=GSI,
        KeyConditionExpression="gsi1pk = :pk AND gsi1sk >= :from",
        ExpressionAttributeValues=to_item({":pk": partition, ":from": key_time(since)}),
    )


def query_items(client: DynamoDBClient, **kwargs: Any) -> Iterator[dict[str, Any]]:
    try:
        for page in client.get_paginator("query").paginate(**kwargs):
            yield from page["Items"]
    except ClientError as error:
        if error.response["Error"]["Code"] == "ResourceNotFoundException":
            raise InputError(
                f"IPAUDIT_TABLE: table {kwargs['TableName']!r} does not exist"
            ) from None
        raise
