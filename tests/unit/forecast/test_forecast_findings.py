"""Forecast findings: fill within 14 days is a WARNING, within 3 days CRITICAL."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from support.reports import T0, cluster, report, subnet

from ipaudit.forecast.forecast_findings import forecast_findings, subnet_series
from ipaudit.report import ClusterReport


def history(free_by_day: list[int], subnet_id: str = "subnet-a") -> list[tuple]:
    """Daily runs before T0, the last one a day before."""
    n = len(free_by_day)
    return [
        (T0 - timedelta(days=n - i), cluster(subnets=[subnet(subnet_id, free=free)]))
        for i, free in enumerate(free_by_day)
    ]


def findings_for(past: list[tuple], today_free: int) -> list:
    today = report([cluster(subnets=[subnet(free=today_free)])], at=T0)
    return forecast_findings(today, subnet_series(past), T0)


def test_a_subnet_full_within_three_days_is_critical() -> None:
    (finding,) = findings_for(history([700, 600, 500, 400, 300]), 200)  # -100/day, 2 days
    assert finding.severity == "CRITICAL"
    assert finding.kind == "subnet_forecast"
    assert finding.id == "subnet_forecast:111111111111:eu-west-1:prod:subnet-a"
    assert finding.value == 2.0
    assert "~2.0 days" in finding.message and "subnet-a" in finding.message


def test_severity_follows_days_until_full() -> None:
    cases = {  # daily loss with 200 free today -> expected severity
        100: "CRITICAL",  # 2 days
        20: "WARNING",  # 10 days
        5: None,  # 40 days
    }
    for loss, expected in cases.items():
        past = history([200 + loss * d for d in range(5, 0, -1)])
        found = findings_for(past, 200)
        assert [f.severity for f in found] == ([expected] if expected else []), loss


def test_no_history_means_no_forecast_findings() -> None:
    assert findings_for([], 10) == []


def test_every_subnet_is_forecast_on_its_own() -> None:
    past: list[tuple[object, ClusterReport]] = [
        (
            T0 - timedelta(days=d),
            cluster(subnets=[subnet("subnet-a", free=200 + 100 * d), subnet("subnet-b", free=900)]),
        )
        for d in range(5, 0, -1)
    ]
    today = report([cluster(subnets=[subnet("subnet-a", free=200), subnet("subnet-b", free=900)])])
    found = forecast_findings(today, subnet_series(past), T0)
    assert [f.resource for f in found] == ["subnet-a"]


def test_a_subnet_two_clusters_share_is_forecast_once_naming_both() -> None:
    shared = replace(subnet(free=200), clusters=["blue", "green"])
    past = [
        (T0 - timedelta(days=d), c)
        for d in range(5, 0, -1)
        for c in (
            cluster("blue", subnets=[replace(shared, free=200 + 100 * d)]),
            cluster("green", subnets=[replace(shared, free=200 + 100 * d)]),
        )
    ]
    today = report([cluster("blue", subnets=[shared]), cluster("green", subnets=[shared])])
    (finding,) = forecast_findings(today, subnet_series(past), T0)
    assert finding.id == "subnet_forecast:111111111111:eu-west-1:-:subnet-a"
    assert finding.cluster is None
    assert "clusters drawing on it: blue, green" in finding.message
