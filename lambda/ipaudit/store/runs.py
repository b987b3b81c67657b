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

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ipaudit.errors import InputError
from ipaudit.report import ClusterReport, Finding, NodeReport, Report
from ipaudit.report_codec import decode, encode
from ipaudit.store.codec import from_item, to_item
from ipaudit.store.table import GSI
from ipaudit.timestamps import epoch, key_time, parse_time

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
    """Write the run; False when an earlier attempt of the same run id had already written it.

    A `STARTED` marker goes first and the run item last: a run with the marker and without the
    run item was cut short (a crash, a throttled put), and the retry of the same run id reuses
    the marker's timestamp for its keys, writes what is missing, then the run item. Every put
    is conditional on the item being absent, so nothing is written twice.
    """
    generated = parse_time(report.generated_at)
    expires = epoch(generated + timedelta(days=retention_days))
    run_key = {"pk": f"RUN#{report.run_id}", "sk": "RUN"}
    if get_item(client, table, run_key) is not None:
        return False
    marker = {"pk": run_key["pk"], "sk": "STARTED", "generated_at": key_time(generated)}
    if not _put_new(client, table, {**marker, "expires_at": expires}):
        earlier = get_item(client, table, {"pk": marker["pk"], "sk": "STARTED"}) or marker
        generated = parse_time(earlier["generated_at"])
    stamp = key_time(generated)
    clusters = {(c.account_id, c.region, c.name) for c in report.clusters}
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
                    "nodes": [encode(node) for node in nodes],
                    "expires_at": expires,
                },
            )
    top = encode(replace(report, clusters=[], findings=[]))
    return _put_new(
        client,
        table,
        {
            **run_key,
            "gsi1pk": "RUNS",
            "gsi1sk": f"{stamp}#{report.run_id}",
            **{name: value for name, value in top.items() if name not in ("clusters", "findings")},
            "generated_at": stamp,
            "report_generated_at": report.generated_at,
            "clusters": [cluster.key for cluster in report.clusters],
            "findings": [encode(f) for f in report.findings if _cluster_key(f) not in clusters],
            "finding_order": [f.id for f in report.findings],
            "expires_at": expires,
        },
    )


def load_run(client: DynamoDBClient, table: str, run_id: str) -> Report | None:
    """A completely stored run as the report that was stored; None when there is no run item."""
    values = get_item(client, table, {"pk": f"RUN#{run_id}", "sk": "RUN"})
    if values is None:
        return None
    stamp = values["generated_at"]
    clusters: list[ClusterReport] = []
    findings = [decode(Finding, f) for f in values["findings"]]
    for key in values["clusters"]:
        account_id, region, name = key.split("/", 2)
        (item,) = query_items(
            client,
            TableName=table,
            KeyConditionExpression="pk = :pk AND sk = :sk",
            ExpressionAttributeValues=to_item(
                {":pk": cluster_pk(account_id, region, name), ":sk": f"RUN#{stamp}#{run_id}"}
            ),
            ConsistentRead=True,
        )
        stored = _stored_run(item)
        node_items = query_items(
            client,
            TableName=table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues=to_item(
                {":pk": f"NODES#{key.replace('/', '#')}", ":prefix": f"{stamp}#{run_id}#"}
            ),
            ConsistentRead=True,
        )
        nodes = [decode(NodeReport, n) for i in node_items for n in from_item(i)["nodes"]]
        clusters.append(replace(stored.cluster, nodes=nodes))
        findings += stored.findings
    order = {finding_id: index for index, finding_id in enumerate(values["finding_order"])}
    findings.sort(key=lambda f: order.get(f.id, len(order)))
    values["generated_at"] = values.get("report_generated_at", stamp)
    return replace(
        decode(Report, {**values, "clusters": [], "findings": []}),
        clusters=clusters,
        findings=findings,
    )


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
    plain: dict[str, Any] = encode(finding)
    return plain


def finding_from(values: dict[str, Any]) -> Finding:
    return decode(Finding, values)


def _cluster_key(finding: Finding) -> tuple[str, str, str | None]:
    return (finding.account_id, finding.region, finding.cluster)


def _cluster_item(
    report: Report, cluster: ClusterReport, stamp: str, expires: int
) -> dict[str, Any]:
    summary = encode(cluster)
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
    return StoredClusterRun(
        run_id=values["run_id"],
        generated_at=parse_time(values["generated_at"]),
        cluster=decode(ClusterReport, {**values["cluster"], "nodes": []}),
        findings=[decode(Finding, f) for f in values["findings"]],
    )


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
            raise _missing(table) from None
        raise
    return True


def get_item(client: DynamoDBClient, table: str, key: dict[str, str]) -> dict[str, Any] | None:
    """One item, read consistently; None when absent."""
    try:
        answer = client.get_item(TableName=table, Key=to_item(key), ConsistentRead=True)
    except ClientError as error:
        if error.response["Error"]["Code"] == "ResourceNotFoundException":
            raise _missing(table) from None
        raise
    return from_item(answer["Item"]) if "Item" in answer else None


def check_table(client: DynamoDBClient, table: str) -> None:
    """Raise the one-line InputError now, before an audit, when the table is not there.

    A GetItem (which the function may do anyway) rather than DescribeTable: no extra permission.
    """
    get_item(client, table, {"pk": "RUN#-", "sk": "RUN"})


def _missing(table: str) -> InputError:
    return InputError(
        f"IPAUDIT_TABLE: table {table!r} does not exist (create it with "
        "`ipaudit init-table` or deploy the stack)"
    )


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
