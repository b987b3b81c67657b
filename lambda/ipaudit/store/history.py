"""The recent history the recommender and the forecast need, one compact item per cluster.

After each audit, the peak-pod sizing and the forecast look back WINDOW_DAYS. Reading every
cluster's stored runs for that (14 days of hourly runs: 336 items a cluster) cost one query per
cluster and grew with clusters x runs; this aggregate holds only what they use — each run's time,
pod count and every subnet's free addresses — so one Query reads every cluster's history:

- history:  pk HISTORY, sk <account>#<region>#<cluster>;
            "t" [epoch seconds], "pods" [count or null], "free" {subnet id: [free or null]}
            (and `nau:<vpc id>`: the VPC's free NAU units, forecast/nau_forecast.py)
            (the three aligned), "last_run_id", trimmed to WINDOW_DAYS, expiring with the runs.

A run appends itself once (the put is conditional on the stored item's last run being the one
it read), so a retried run adds nothing twice. A cluster without an aggregate yet (stored before
this item existed, or new) gets one from its stored runs the first time: one query, once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ipaudit.forecast.nau_forecast import history_points
from ipaudit.forecast.trend import WINDOW_DAYS, Point
from ipaudit.report import ClusterReport, Report
from ipaudit.store.codec import from_item, to_item
from ipaudit.store.runs import HISTORY_DAYS, cluster_history, query_items
from ipaudit.timestamps import epoch, parse_time

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

PARTITION = "HISTORY"


@dataclass(frozen=True)
class ClusterHistory:
    """One cluster's recent runs: times, pod counts and each subnet's free addresses."""

    key: str  # ClusterReport.key: account/region/name
    times: tuple[int, ...] = ()  # epoch seconds, oldest first
    pods: tuple[int | None, ...] = ()
    free: Mapping[str, tuple[int | None, ...]] = field(default_factory=dict)
    last_run_id: str | None = None
    # The stored item's last_run_id (None: not stored yet): what the next put is conditional on.
    version: str | None = None

    def peak_pods(self) -> int | None:
        return max((p for p in self.pods if p is not None), default=None)

    def subnet_points(self) -> dict[str, list[Point]]:
        """Each subnet's free addresses over time, as the forecast reads them."""
        moments = [datetime.fromtimestamp(t, UTC) for t in self.times]
        return {
            subnet: [(m, float(v)) for m, v in zip(moments, values, strict=True) if v is not None]
            for subnet, values in self.free.items()
        }

    def since(self, start: datetime) -> ClusterHistory:
        """Only the runs at `start` or later."""
        first = next((i for i, t in enumerate(self.times) if t >= epoch(start)), len(self.times))
        if first == 0:
            return self
        return ClusterHistory(
            self.key,
            self.times[first:],
            self.pods[first:],
            {s: v[first:] for s, v in self.free.items() if any(x is not None for x in v[first:])},
            self.last_run_id,
            self.version,
        )

    def with_run(self, run_id: str, moment: datetime, cluster: ClusterReport) -> ClusterHistory:
        """This history with one more run at its end."""
        now_free = {subnet.subnet_id: subnet.free for subnet in cluster.subnets}
        now_free |= history_points(cluster)  # the VPC's free NAU units, as a subnet's free
        runs = len(self.times)
        free = {s: (*v, now_free.get(s)) for s, v in self.free.items()}
        for subnet, value in now_free.items():
            free.setdefault(subnet, (*(None,) * runs, value))
        return ClusterHistory(
            self.key,
            (*self.times, epoch(moment)),
            (*self.pods, cluster.pods),
            free,
            run_id,
            self.version,
        )

    def without_run(self, run_id: str) -> ClusterHistory:
        """The history before `run_id`, when that run is already its last (a retried run)."""
        if self.last_run_id != run_id or not self.times:
            return self
        return ClusterHistory(
            self.key,
            self.times[:-1],
            self.pods[:-1],
            {s: v[:-1] for s, v in self.free.items()},
            None,
            self.version,
        )


def from_runs(key: str, runs: Iterable[tuple[str, datetime, ClusterReport]]) -> ClusterHistory:
    history = ClusterHistory(key)
    for run_id, moment, cluster in sorted(runs, key=lambda run: run[1]):
        history = history.with_run(run_id, moment, cluster)
    return history


def load_histories(
    client: DynamoDBClient,
    table: str,
    clusters: Sequence[ClusterReport],
    *,
    now: datetime,
    run_id: str,
) -> dict[str, ClusterHistory]:
    """Every cluster's history over the last WINDOW_DAYS before run `run_id`: one Query for
    all of them; a cluster the aggregate does not hold yet is built from its stored runs."""
    start = now - timedelta(days=WINDOW_DAYS)
    items = query_items(
        client,
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues=to_item({":pk": PARTITION}),
    )
    found = {history.key: history for history in map(_history, items)}
    histories = {}
    for cluster in clusters:
        history = found.get(cluster.key)
        if history is None:
            runs = cluster_history(
                client, table, cluster.account_id, cluster.region, cluster.name, start
            )
            history = from_runs(cluster.key, ((r.run_id, r.generated_at, r.cluster) for r in runs))
        histories[cluster.key] = history.without_run(run_id).since(start)
    return histories


def record_run(
    client: DynamoDBClient,
    table: str,
    report: Report,
    histories: Mapping[str, ClusterHistory] | None = None,
    *,
    retention_days: int = HISTORY_DAYS,
) -> None:
    """Append the report's run to every cluster's aggregate (`histories` as loaded before the
    run, or read here). An aggregate another run changed meanwhile keeps its version."""
    moment = parse_time(report.generated_at)
    if histories is None:
        histories = load_histories(client, table, report.clusters, now=moment, run_id=report.run_id)
    start = moment - timedelta(days=WINDOW_DAYS)
    for cluster in report.clusters:
        before = histories.get(cluster.key) or ClusterHistory(cluster.key)
        if before.version == report.run_id:
            continue  # a retried run: this run is already in
        after = before.with_run(report.run_id, moment, cluster).since(start)
        _put(client, table, after, before.version, epoch(moment) + retention_days * 86400)


def _put(
    client: DynamoDBClient,
    table: str,
    history: ClusterHistory,
    previous_run: str | None,
    expires_at: int,
) -> None:
    item: dict[str, Any] = {
        "pk": PARTITION,
        "sk": _sort_key(history.key),
        "key": history.key,
        "t": list(history.times),
        "pods": list(history.pods),
        "free": {subnet: list(values) for subnet, values in history.free.items()},
        "last_run_id": history.last_run_id,
        "expires_at": expires_at,
    }
    condition: dict[str, Any]
    if previous_run is None:
        condition = {"ConditionExpression": "attribute_not_exists(pk)"}
    else:
        condition = {
            "ConditionExpression": "last_run_id = :previous",
            "ExpressionAttributeValues": to_item({":previous": previous_run}),
        }
    try:
        client.put_item(TableName=table, Item=to_item(item), **condition)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        # Another run appended first; its aggregate stands, this run is in the stored runs.


def _sort_key(key: str) -> str:
    return key.replace("/", "#")


def _history(item: Mapping[str, Any]) -> ClusterHistory:
    values = from_item(item)
    return ClusterHistory(
        key=values["key"],
        times=tuple(int(t) for t in values.get("t") or ()),
        pods=tuple(values.get("pods") or ()),
        free={subnet: tuple(v) for subnet, v in (values.get("free") or {}).items()},
        last_run_id=values.get("last_run_id"),
        version=values.get("last_run_id"),
    )
