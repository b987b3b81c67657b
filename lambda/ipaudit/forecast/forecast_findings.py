"""Forecast findings: a subnet due to fill within 14 days is a WARNING, within 3 CRITICAL."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from ipaudit.analysis.pool_subnets import discovery_pools
from ipaudit.forecast.trend import Forecast, Point, forecast
from ipaudit.report import ClusterReport, Finding, Report, Severity, SubnetReport, finding_id

KIND = "subnet_forecast"
WARNING_DAYS = 14.0
CRITICAL_DAYS = 3.0

SubnetKey = tuple[str, str, str, str]  # account, region, cluster, subnet id


def subnet_series(runs: Iterable[tuple[datetime, ClusterReport]]) -> dict[SubnetKey, list[Point]]:
    """Free addresses over time, per subnet of each cluster."""
    series: dict[SubnetKey, list[Point]] = {}
    for moment, cluster in runs:
        for subnet in cluster.subnets:
            key = (cluster.account_id, cluster.region, cluster.name, subnet.subnet_id)
            series.setdefault(key, []).append((moment, float(subnet.free)))
    return series


def cluster_series(runs: Iterable[tuple[datetime, ClusterReport]]) -> dict[str, list[Point]]:
    """A cluster's free addresses over time (all its subnets), keyed by `ClusterReport.key`."""
    series: dict[str, list[Point]] = {}
    for moment, cluster in runs:
        total = float(sum(subnet.free for subnet in cluster.subnets))
        series.setdefault(cluster.key, []).append((moment, total))
    return series


def forecast_findings(
    report: Report, past: Mapping[SubnetKey, Sequence[Point]], now: datetime
) -> list[Finding]:
    """Findings for the report's subnets, from earlier runs' points plus the report itself: one
    per subnet, however many clusters draw on it (the shared subnet's finding names them all and
    belongs to no single cluster, like its headroom finding)."""
    generated = datetime.fromisoformat(report.generated_at)
    series = {key: list(points) for key, points in past.items()}
    for key, points in subnet_series((generated, c) for c in report.clusters).items():
        series.setdefault(key, []).extend(points)
    findings = []
    raised: set[tuple[str, str, str]] = set()
    for cluster in report.clusters:
        for subnet in cluster.subnets:
            if subnet.free <= 0:
                continue  # already out of addresses: the headroom finding says so
            where = (cluster.account_id, cluster.region, subnet.subnet_id)
            if where in raised:
                continue
            key = (cluster.account_id, cluster.region, cluster.name, subnet.subnet_id)
            outlook = forecast(series[key], now)
            severity = outlook_severity(outlook)
            if severity is None:
                continue
            assert outlook.slope_per_day is not None and outlook.days_until_zero is not None
            raised.add(where)
            names = sorted({cluster.name, *subnet.clusters})
            shared = len(names) > 1
            message = (
                f"subnet {subnet.subnet_id} ({subnet.cidr}, {subnet.az}) is forecast to "
                f"run out of addresses in ~{outlook.days_until_zero:.1f} days: "
                f"{subnet.free} free, losing ~{-outlook.slope_per_day:.0f} a day over "
                f"the last {outlook.days_of_data} days"
            )
            blocks, severity = _what_it_blocks(cluster, subnet, severity)
            message += blocks
            if shared:
                message += f"; clusters drawing on it: {', '.join(names)}"
            name = None if shared else cluster.name
            findings.append(
                Finding(
                    id=finding_id(KIND, cluster.account_id, cluster.region, name, subnet.subnet_id),
                    severity=severity,
                    kind=KIND,
                    account_id=cluster.account_id,
                    region=cluster.region,
                    cluster=name,
                    resource=subnet.subnet_id,
                    message=message,
                    value=round(outlook.days_until_zero, 1),
                )
            )
    return findings


def _what_it_blocks(
    cluster: ClusterReport, subnet: SubnetReport, severity: Severity
) -> tuple[str, Severity]:
    """Under subnet discovery, a subnet of a zone whose pods draw on several subnets blocks
    only what it alone serves: new nodes launching in it; pods once the whole pool is empty."""
    pool = discovery_pools(cluster).get(subnet.az)
    if pool is None:
        return "", severity
    others = [s for s in pool if s.subnet_id != subnet.subnet_id]
    rest = sum(s.free for s in others)
    pods = (
        f"pods in {subnet.az} also draw on {', '.join(s.subnet_id for s in others)} ({rest} free)"
    )
    if "nodes" in subnet.roles:
        return f"; once full it blocks new nodes launching in it; {pods}", severity
    return f"; it blocks no pod while the rest of the pool has room: {pods}", "WARNING"


def outlook_severity(outlook: Forecast) -> Severity | None:
    if outlook.status != "ok" or outlook.days_until_zero is None:
        return None
    if outlook.days_until_zero <= CRITICAL_DAYS:
        return "CRITICAL"
    if outlook.days_until_zero <= WARNING_DAYS:
        return "WARNING"
    return None
