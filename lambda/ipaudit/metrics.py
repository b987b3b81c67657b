"""CloudWatch metrics (Powertools EMF) for one audit: what dashboards and alarms watch."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools import Metrics, single_metric
from aws_lambda_powertools.metrics import MetricUnit

from ipaudit.report import Report

if TYPE_CHECKING:
    from ipaudit.pipeline import AfterAudit

NAMESPACE = "IpAudit"
SERVICE = "ipaudit"
# Metric names and dimension names (as `record` emits them): the CDK stack's alarms and
# dashboard graph exactly these.
FREE_ADDRESSES = "FreeAddresses"
WARM_ADDRESSES = "WarmAddresses"
COVERAGE_ERRORS = "CoverageErrors"
NOTIFICATION_ERRORS = "NotificationErrors"  # destinations that did not accept everything
STORAGE_ERRORS = "StorageErrors"  # the table failed after the audit
CLUSTER_DIMENSIONS = ("Account", "Region", "Cluster")
SUBNET_DIMENSIONS = (*CLUSTER_DIMENSIONS, "Subnet")
# Powertools adds this dimension (POWERTOOLS_SERVICE_NAME) to every metric the function emits.
SERVICE_DIMENSION = "service"


def record(report: Report, metrics: Metrics) -> None:
    """Per-subnet free addresses and per-cluster warm addresses, each with its own dimensions;
    run-wide coverage errors and findings on the shared `service` dimension (the alarms')."""
    for cluster in report.clusters:
        # The service dimension by name too (Powertools adds it only when POWERTOOLS_SERVICE_NAME
        # is set): the dashboard's searches match exactly this set of dimension names.
        scope = {
            "Account": cluster.account_id,
            "Region": cluster.region,
            "Cluster": cluster.name,
            SERVICE_DIMENSION: SERVICE,
        }
        for subnet in cluster.subnets:
            with single_metric(
                name=FREE_ADDRESSES,
                unit=MetricUnit.Count,
                value=subnet.free,
                namespace=NAMESPACE,
                default_dimensions={**scope, "Subnet": subnet.subnet_id},
            ):
                pass
        if cluster.warm_ips is not None:
            with single_metric(
                name=WARM_ADDRESSES,
                unit=MetricUnit.Count,
                value=cluster.warm_ips,
                namespace=NAMESPACE,
                default_dimensions=scope,
            ):
                pass
    errors = sum(1 for c in report.coverage if c.status == "error")
    metrics.add_metric(name=COVERAGE_ERRORS, unit=MetricUnit.Count, value=errors)
    for severity in ("CRITICAL", "WARNING"):
        count = sum(1 for f in report.findings if f.severity == severity)
        metrics.add_metric(name=f"{severity.title()}Findings", unit=MetricUnit.Count, value=count)


def record_delivery(outcome: AfterAudit, metrics: Metrics) -> None:
    """Destinations that did not accept everything this run (0-2), and table failures: the
    stack alarms on both. What failed is pending and the next run sends it."""
    failed = sum(1 for error in (outcome.slack_error, outcome.sns_error) if error)
    metrics.add_metric(name=NOTIFICATION_ERRORS, unit=MetricUnit.Count, value=failed)
    metrics.add_metric(
        name=STORAGE_ERRORS, unit=MetricUnit.Count, value=1 if outcome.storage_error else 0
    )
