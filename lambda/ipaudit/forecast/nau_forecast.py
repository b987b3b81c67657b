"""Forecast findings for a VPC's Network Address Usage: its free units (quota - units) trended
as a subnet's free addresses are (forecast/trend.py), due to run out within 14 days a WARNING,
within 3 CRITICAL.

The history keeps them beside the subnets' free addresses, under `nau:<vpc id>` keys
(`history_points`), so the stored aggregate needs no new attribute.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from ipaudit.analysis.findings import subnet_finding
from ipaudit.forecast.forecast_findings import SubnetKey, outlook_severity
from ipaudit.forecast.trend import Point, forecast
from ipaudit.report import ClusterReport, Finding, Report
from ipaudit.timestamps import parse_time

KIND = "network_address_usage_forecast"
KEY_PREFIX = "nau:"


def history_points(cluster: ClusterReport) -> dict[str, int]:
    """What a run adds to the cluster's history for its VPC: the free units, by key."""
    nau = cluster.network_address_usage
    return {} if nau is None else {KEY_PREFIX + nau.vpc_id: nau.free}


def nau_forecast_findings(
    report: Report, past: Mapping[SubnetKey, Sequence[Point]], now: datetime
) -> list[Finding]:
    """One finding per VPC whose free units are forecast to run out; a VPC already past its
    quota has its `network_address_usage` finding instead."""
    generated = parse_time(report.generated_at)
    findings = []
    raised: set[tuple[str, str, str]] = set()
    for cluster in sorted(report.clusters, key=lambda c: c.name):
        nau = cluster.network_address_usage
        where = (cluster.account_id, cluster.region, nau.vpc_id if nau else "")
        if nau is None or nau.free <= 0 or where in raised:
            continue
        key = (cluster.account_id, cluster.region, cluster.name, KEY_PREFIX + nau.vpc_id)
        outlook = forecast([*past.get(key, ()), (generated, float(nau.free))], now)
        severity = outlook_severity(outlook)
        if severity is None:
            continue
        assert outlook.slope_per_day is not None and outlook.days_until_zero is not None
        raised.add(where)
        names = sorted(
            c.name
            for c in report.clusters
            if c.network_address_usage is not None
            and (c.account_id, c.region, c.network_address_usage.vpc_id) == where
        )
        message = (
            f"VPC {nau.vpc_id} is forecast to reach its Network Address Usage quota "
            f"({nau.quota:,}) in ~{outlook.days_until_zero:.1f} days: {nau.free:,} units "
            f"free, losing ~{-outlook.slope_per_day:.0f} a day over the last "
            f"{outlook.days_of_data} days"
        )
        if len(names) > 1:
            message += f"; clusters in it: {', '.join(names)}"
        findings.append(
            subnet_finding(
                KIND,
                severity,
                cluster,
                nau.vpc_id,
                message,
                round(outlook.days_until_zero, 1),
                names,
            )
        )
    return findings
