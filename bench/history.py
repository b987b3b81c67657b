"""(c) The post-audit step (peak sizing, forecast, store) at 100 / 400 / 800 clusters, each with
14 days of hourly history, from replayed DynamoDB answers: its CPU must grow with the clusters,
not with their square."""

from __future__ import annotations

import json
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from typing import Any

import boto3
from boto3.dynamodb.types import TypeSerializer

from bench.collection import environment
from bench.replay import replaying_aws

END = datetime(2026, 11, 27, tzinfo=UTC)
HOURS = 14 * 24
SUBNETS = 3


def _clusters(count: int) -> list[Any]:
    from ipaudit.report import ClusterReport, SubnetReport

    return [
        ClusterReport(
            account_id=f"{100000000000 + n // 4:012d}",
            region="eu-west-1",
            name=f"cluster-{n}",
            vpc_id="vpc-1",
            cni={},
            subnets=[
                SubnetReport(f"subnet-{n}-{s}", "10.0.0.0/20", "eu-west-1a", 4091, 3000, 73.3, 180)
                for s in range(SUBNETS)
            ],
            nodes=[],
            leaked_enis=[],
            ips_held=1091 * SUBNETS,
            pods=900,  # the busiest of the window: no re-recommendation, the history alone
            warm_ips=100,
        )
        for n in range(count)
    ]


def _history_answer(clusters: list[Any]) -> bytes:
    serialize = TypeSerializer().serialize
    end = int(END.timestamp())
    times = [end - 3600 * (HOURS - h) for h in range(HOURS)]
    items = []
    for cluster in clusters:
        value = {
            "pk": "HISTORY",
            "sk": cluster.key.replace("/", "#"),
            "key": cluster.key,
            "t": times,
            "pods": [800 + h % 100 for h in range(HOURS)],
            "free": {
                s.subnet_id: [3400 - h - h % 7 for h in range(HOURS)] for s in cluster.subnets
            },
            "last_run_id": "run-before",
            "expires_at": end + 90 * 86400,
        }
        items.append({k: serialize(v) for k, v in value.items()})
    return json.dumps({"Items": items, "Count": len(items), "ScannedCount": len(items)}).encode()


def post_audit_cpu(count: int) -> float:
    from ipaudit.pipeline import after_audit
    from ipaudit.report import Report
    from ipaudit.settings import Settings

    clusters = _clusters(count)
    answer_history = _history_answer(clusters)

    def answer(host: str, params: Any, path: str, document: Any) -> tuple[int, bytes]:
        if params.get("Action") != "Query":
            return 200, b"{}"
        values = document.get("ExpressionAttributeValues") or {}
        if values.get(":pk", {}).get("S") == "HISTORY":
            return 200, answer_history
        return 200, b'{"Items": [], "Count": 0, "ScannedCount": 0}'

    report = Report("run-now", "2026-11-27T00:00:00Z", clusters)
    with ExitStack() as stack:
        stack.enter_context(environment())
        stack.enter_context(replaying_aws(answer))
        session = boto3.Session()
        settings = Settings(table="ipaudit")
        started = time.process_time()
        after_audit(report, settings, session, notify=False, now=END)
        return time.process_time() - started
