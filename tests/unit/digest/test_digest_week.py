"""The week the digest reports: headroom now and a week ago, lowest point, outlook, alerts."""

from __future__ import annotations

from datetime import timedelta

from support.reports import T0, cluster, report, subnet

from ipaudit.alerts.lifecycle import AlertEvent
from ipaudit.digest.week import build_week
from ipaudit.render.digest_html import render_html
from ipaudit.render.digest_text import render_text
from ipaudit.report import LeakedEni

NOW = T0 + timedelta(days=8)


def history() -> list[tuple]:
    """Daily runs of one cluster over 9 days: subnet-a shrinks by 50 a day, subnet-b is flat."""
    runs = []
    for day in range(9):
        free_a = 700 - 50 * day
        c = cluster(
            subnets=[subnet("subnet-a", free=free_a), subnet("subnet-b", free=800)],
            leaked=[LeakedEni("eni-9", "subnet-a", 14)],
        )
        runs.append((T0 + timedelta(days=day), c))
    return runs


def events() -> list[AlertEvent]:
    rep = report([cluster(subnets=[subnet("subnet-a", free=200)])])
    (finding,) = rep.findings
    return [
        AlertEvent(T0 + timedelta(days=3), "new", finding, "r3"),
        AlertEvent(T0 + timedelta(days=4), "reminded", finding, "r4"),
        AlertEvent(T0 + timedelta(days=5), "resolved", finding, "r5"),
        AlertEvent(T0 - timedelta(days=3), "new", finding, "r-old"),  # before the week
    ]


def test_the_week_has_headroom_then_and_now_lowest_outlook_and_alerts() -> None:
    week = build_week(history(), events(), NOW)
    (c,) = week.clusters
    assert (c.free_now, c.usable) == (300 + 800, 2038)
    assert c.free_week_ago == 650 + 800
    assert c.lowest == 1100 and c.lowest_at == T0 + timedelta(days=8)
    assert c.outlook.status == "ok" and round(c.outlook.days_until_zero or 0) == 22
    assert (c.leaked_enis, c.leaked_ips) == (1, 14)
    assert c.recommendation is not None and c.recommendation.ips_returned == 390
    assert (c.raised, c.resolved) == (1, 1)
    assert len(week.raised) == 1 and len(week.resolved) == 1


def test_the_chart_data_is_each_days_fewest_free_addresses() -> None:
    runs = history()
    # A second run on the last day dips lower: the chart shows the dip.
    runs.append((NOW - timedelta(hours=1), cluster(subnets=[subnet("subnet-a", free=120)])))
    week = build_week(runs, [], NOW)
    (c,) = week.clusters
    a = next(s for s in c.subnets if s.subnet_id == "subnet-a")
    assert len(a.daily_low) == 7 and a.daily_low[-1][0] == NOW.date()
    assert [low for _, low in a.daily_low] == [600, 550, 500, 450, 400, 350, 120]


def test_a_cluster_not_seen_this_week_is_left_out() -> None:
    old = [(NOW - timedelta(days=10), cluster("gone"))]
    assert build_week(old, [], NOW).clusters == []


def test_the_html_is_mail_safe_and_draws_a_bar_per_subnet_and_day() -> None:
    week = build_week(history(), events(), NOW)
    html = render_html(week, "ipaudit weekly summary")
    lowered = html.lower()
    assert "<script" not in lowered and "<img" not in lowered and "<style" not in lowered
    assert "http://" not in lowered and "https://" not in lowered and "url(" not in lowered
    assert html.count('bgcolor="') == 2 * 7  # two subnets, seven days
    assert 'title="300 free"' in html
    assert "subnet-a" in html and "WARM_IP_TARGET=2, MINIMUM_IP_TARGET=12" in html
    assert "kubectl -n kube-system set env daemonset/aws-node" in html


def test_the_text_part_tells_the_same_story() -> None:
    week = build_week(history(), events(), NOW)
    text = render_text(week, "ipaudit weekly summary")
    assert "== prod (111111111111 / eu-west-1)" in text
    assert "free now 1100 of 2038; a week ago 1450; lowest 1100" in text
    assert "days until full: 22.0 days" in text
    assert "leaked CNI ENIs: 1 holding 14 addresses" in text
    assert "subnet-a (eu-west-1a, 1019 usable): 600 550 500 450 400 350 300" in text


def test_an_empty_week_says_so() -> None:
    week = build_week([], [], NOW)
    assert "No audit runs were stored this week." in render_text(week, "s")
    assert "No audit runs were stored this week." in render_html(week, "s")


def test_the_vpcs_network_address_usage_is_a_line_of_both_parts() -> None:
    from dataclasses import replace

    from ipaudit.report import NetworkAddressUsage

    # 57,600 of 64,000 (AWS's default, unread): 6,400 free, 10%; 405 of them warm (0.7%).
    nau = NetworkAddressUsage(
        vpc_id="vpc-1",
        units=57_600,
        quota=64_000,
        quota_source="default",
        free=6_400,
        free_pct=10.0,
        warm_units=405,
        warm_pct=0.7,
    )
    runs = [(at, replace(c, network_address_usage=nau)) for at, c in history()]
    week = build_week(runs, [], NOW)
    line = (
        "VPC vpc-1: 57,600 Network Address Usage units of 64,000 (AWS's default, not read), "
        "6,400 free (10.0%); aws-node's warm pools hold 405 (0.7%)"
    )
    assert f"  {line}\n" in render_text(week, "s")
    assert line.replace("'", "&#x27;") in render_html(week, "s")
