"""The week as the digest tells it, built from stored runs and alert events (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from ipaudit.alerts.lifecycle import AlertEvent
from ipaudit.capacity.nau import describe as describe_nau
from ipaudit.forecast.forecast_findings import cluster_series
from ipaudit.forecast.trend import Forecast, forecast
from ipaudit.report import ClusterReport, Finding, Recommendation
from ipaudit.timestamps import parse_time

WEEK_DAYS = 7


@dataclass(frozen=True)
class SubnetWeek:
    subnet_id: str
    az: str
    cidr: str
    usable: int
    free_now: int
    daily_low: list[tuple[date, int | None]]  # the fewest free addresses seen each day


@dataclass(frozen=True)
class ClusterWeek:
    account_id: str
    region: str
    name: str
    usable: int
    free_now: int
    free_week_ago: int | None  # None: no run that long ago
    lowest: int
    lowest_at: datetime
    outlook: Forecast
    ips_held: int
    pods: int | None
    warm_ips: int | None
    leaked_enis: int
    leaked_ips: int
    recommendation: Recommendation | None  # only one that returns addresses
    subnets: list[SubnetWeek]
    raised: int  # alerts new or escalated this week
    resolved: int
    # The VPC's Network Address Usage line at the latest run (None: not counted then).
    network_address_usage: str | None = None


@dataclass(frozen=True)
class Week:
    start: datetime
    end: datetime
    clusters: list[ClusterWeek]
    days: list[date]  # the chart's columns, oldest first, today last
    raised: list[AlertEvent]
    resolved: list[AlertEvent]
    muted: list[Finding] = field(default_factory=list)  # muted in the latest run, mute unexpired


def still_muted(latest_findings: Iterable[Finding], now: datetime) -> list[Finding]:
    """The latest run's muted findings whose mute has not expired since, most severe first."""
    muted = [
        f
        for f in latest_findings
        if f.muted and f.mute_expires_at is not None and parse_time(f.mute_expires_at) > now
    ]
    return sorted(muted, key=lambda f: (f.severity != "CRITICAL", f.severity != "WARNING", f.id))


def build_week(
    runs: Sequence[tuple[datetime, ClusterReport]],
    events: Sequence[AlertEvent],
    now: datetime,
    muted: Sequence[Finding] = (),
) -> Week:
    """`runs`: every cluster's runs of the forecast window (14 days), in any order."""
    start = now - timedelta(days=WEEK_DAYS)
    by_cluster: dict[str, list[tuple[datetime, ClusterReport]]] = {}
    for moment, cluster in sorted(runs, key=lambda run: run[0]):
        if moment <= now:
            by_cluster.setdefault(cluster.key, []).append((moment, cluster))
    week_events = [e for e in events if start <= e.at <= now]
    raised = [e for e in week_events if e.change in ("new", "escalated")]
    resolved = [e for e in week_events if e.change == "resolved"]
    days = [(now - timedelta(days=n)).date() for n in range(WEEK_DAYS - 1, -1, -1)]
    clusters = []
    for key, history in sorted(by_cluster.items()):
        in_week = [(t, c) for t, c in history if t >= start]
        if not in_week:
            continue  # not seen this week: deleted, or audited no more
        clusters.append(_cluster_week(key, history, in_week, raised, resolved, days, now))
    clusters.sort(key=lambda c: (c.free_now / c.usable if c.usable else 1.0, c.name))
    return Week(start, now, clusters, days, raised, resolved, list(muted))


def _cluster_week(
    key: str,
    history: list[tuple[datetime, ClusterReport]],
    in_week: list[tuple[datetime, ClusterReport]],
    raised: list[AlertEvent],
    resolved: list[AlertEvent],
    days: list[date],
    now: datetime,
) -> ClusterWeek:
    latest = in_week[-1][1]
    totals = [(t, sum(s.free for s in c.subnets)) for t, c in in_week]
    lowest_at, lowest = min(totals, key=lambda item: (item[1], item[0]))
    before = [c for t, c in history if t <= now - timedelta(days=WEEK_DAYS)]
    series = cluster_series(history)[key]

    def mine(event: AlertEvent) -> bool:
        finding = event.finding
        return (finding.account_id, finding.region, finding.cluster) == (
            latest.account_id,
            latest.region,
            latest.name,
        )

    recommendation = latest.recommendation
    return ClusterWeek(
        account_id=latest.account_id,
        region=latest.region,
        name=latest.name,
        usable=sum(s.usable for s in latest.subnets),
        free_now=sum(s.free for s in latest.subnets),
        free_week_ago=sum(s.free for s in before[-1].subnets) if before else None,
        lowest=lowest,
        lowest_at=lowest_at,
        outlook=forecast(series, now),
        ips_held=latest.ips_held,
        pods=latest.pods,
        warm_ips=latest.warm_ips,
        leaked_enis=len(latest.leaked_enis),
        leaked_ips=sum(e.ips for e in latest.leaked_enis),
        recommendation=(
            recommendation
            if recommendation is not None and recommendation.ips_returned > 0
            else None
        ),
        subnets=[_subnet_week(s.subnet_id, in_week, days) for s in latest.subnets],
        raised=sum(map(mine, raised)),
        resolved=sum(map(mine, resolved)),
        network_address_usage=(
            None
            if latest.network_address_usage is None
            else describe_nau(latest.network_address_usage)
        ),
    )


def _subnet_week(
    subnet_id: str, in_week: list[tuple[datetime, ClusterReport]], days: list[date]
) -> SubnetWeek:
    lows: dict[date, int] = {}
    current = None
    for moment, cluster in in_week:
        for subnet in cluster.subnets:
            if subnet.subnet_id == subnet_id:
                day = moment.date()
                lows[day] = min(lows.get(day, subnet.free), subnet.free)
                current = subnet
    assert current is not None  # the subnet comes from the latest run
    return SubnetWeek(
        subnet_id=subnet_id,
        az=current.az,
        cidr=current.cidr,
        usable=current.usable,
        free_now=current.free,
        daily_low=[(day, lows.get(day)) for day in days],
    )
