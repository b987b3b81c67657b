"""CloudWatch metrics (Powertools EMF) for one audit: what dashboards and alarms watch."""

from __future__ import annotations

from aws_lambda_powertools import Metrics, single_metric
from aws_lambda_powertools.metrics import MetricUnit

from ipaudit.report import Report

NAMESPACE = "IpAudit"
SERVICE = "ipaudit"


def record(report: Report, metrics: Metrics) -> None:
    """Per-subnet free addresses and per-cluster warm addresses, each with its own dimensions;
    run-wide coverage errors and findings on the shared `service` dimension (the alarms')."""
    for cluster in report.clusters:
        scope = {"Account": cluster.account_id, "Region": cluster.region, "Cluster": cluster.name}
        for subnet in cluster.subnets:
            with single_metric(
                name="FreeAddresses",
                unit=MetricUnit.Count,
                value=subnet.free,
                namespace=NAMESPACE,
                default_dimensions={**scope, "Subnet": subnet.subnet_id},
            ):
                pass
        if cluster.warm_ips is not None:
            with single_metric(
                name="WarmAddresses",
                unit=MetricUnit.Count,
                value=cluster.warm_ips,
                namespace=NAMESPACE,
                default_dimensions=scope,
            ):
                pass
    errors = sum(1 for c in report.coverage if c.status == "error")
    metrics.add_metric(name="CoverageErrors", unit=MetricUnit.Count, value=errors)
    for severity in ("CRITICAL", "WARNING"):
        count = sum(1 for f in report.findings if f.severity == severity)
        metrics.add_metric(name=f"{severity.title()}Findings", unit=MetricUnit.Count, value=count)
