"""With history stored, recommendations are sized to the busiest recent pod count, not only to
today's: a setting that starves the next peak is no recommendation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3

from ipaudit.analysis.report_builder import with_recommendation
from ipaudit.pipeline import after_audit
from ipaudit.report import ClusterReport, NodeReport, Report, SubnetReport
from ipaudit.settings import Settings
from ipaudit.snapshot import InstanceTypeLimits
from ipaudit.store.runs import store_run
from ipaudit.store.table import create_table
from ipaudit.timestamps import key_time

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
M5_8XLARGE = InstanceTypeLimits("m5.8xlarge", 8, 30, 32, "nitro")


def article(pods_per_node: int) -> ClusterReport:
    """30 m5.8xlarge nodes holding 5 full ENIs each (150 addresses), subnets nearly full."""
    nodes = [
        NodeReport(
            f"i-{i:04d}", "m5.8xlarge", "subnet-a", 5, 150, 145, pods_per_node, 145 - pods_per_node
        )
        for i in range(30)
    ]
    return ClusterReport(
        account_id="111111111111",
        region="eu-west-1",
        name="shop-prod",
        vpc_id="vpc-1",
        cni={},
        subnets=[SubnetReport("subnet-a", "10.0.0.0/20", "eu-west-1a", 4605, 60, 1.3, 0)],
        nodes=nodes,
        leaked_enis=[],
        ips_held=4500,
        pods=30 * pods_per_node,
        warm_ips=30 * (145 - pods_per_node),
        instance_types={"m5.8xlarge": M5_8XLARGE},
    )


def test_a_busier_recent_past_resizes_the_recommendation(aws: boto3.Session) -> None:
    create_table(aws.client("dynamodb"), "ipaudit")
    settings = Settings(table="ipaudit")
    busy = Report("run-busy", key_time(NOW - timedelta(days=2)), [article(100)])
    store_run(aws.client("dynamodb"), "ipaudit", busy)
    today = with_recommendation(article(10))
    assert today.recommendation is not None and "recent peak" not in today.recommendation.rationale

    outcome = after_audit(Report("run-now", key_time(NOW), [today]), settings, aws, now=NOW)

    [cluster] = outcome.report.clusters
    assert cluster.recommendation is not None
    assert "recent peak (3000 pods in all)" in cluster.recommendation.rationale
    assert cluster.recommendation != today.recommendation


def test_without_a_busier_past_the_recommendation_stands(aws: boto3.Session) -> None:
    create_table(aws.client("dynamodb"), "ipaudit")
    quiet = Report("run-quiet", key_time(NOW - timedelta(days=2)), [article(5)])
    store_run(aws.client("dynamodb"), "ipaudit", quiet)
    today = with_recommendation(article(10))

    outcome = after_audit(
        Report("run-now", key_time(NOW), [today]), Settings(table="ipaudit"), aws, now=NOW
    )

    assert outcome.report.clusters == [today]
