"""What on-call sees in the console: one dashboard with the audit's picture and every alarm."""

from __future__ import annotations

from typing import Any

import pytest
from cdk_harness import Synth, dashboard_body, logical_id

# Dimensions as the audit handler emits them (tests/integration/test_handler.py checks that).
FREE_ADDRESSES = (
    "SEARCH('{IpAudit,Account,Region,Cluster,Subnet,service} "
    "MetricName=\"FreeAddresses\"', 'Minimum', 3600)"
)
WARM_ADDRESSES = (
    "SEARCH('{IpAudit,Account,Region,Cluster,service} "
    "MetricName=\"WarmAddresses\"', 'Maximum', 3600)"
)


def widgets(synth: Synth, **context: str) -> dict[str, dict[str, Any]]:
    """The dashboard's widgets by title."""
    body = dashboard_body(synth(**context).auditor)
    return {w["properties"]["title"]: w for w in body["widgets"]}


def graphed(widget: dict[str, Any]) -> list[list[Any]]:
    assert widget["type"] == "metric"
    metrics: list[list[Any]] = widget["properties"]["metrics"]
    return metrics


def test_the_stack_creates_one_dashboard_named_after_it(synth: Synth) -> None:
    auditor = synth().auditor
    auditor.has_resource_properties("AWS::CloudWatch::Dashboard", {"DashboardName": "IpAudit"})
    dashboard = logical_id(auditor, "AWS::CloudWatch::Dashboard", "Dashboard")
    auditor.has_output("DashboardName", {"Value": {"Ref": dashboard}})


def test_free_addresses_are_graphed_per_subnet_at_their_lowest(synth: Synth) -> None:
    widget = widgets(synth)["Free addresses per subnet"]
    ((series,),) = graphed(widget)
    assert series["expression"] == FREE_ADDRESSES
    assert widget["properties"]["yAxis"]["left"]["min"] == 0


def test_warm_addresses_are_graphed_per_cluster(synth: Synth) -> None:
    ((series,),) = graphed(widgets(synth)["Warm addresses per cluster"])
    assert series["expression"] == WARM_ADDRESSES


@pytest.mark.parametrize(
    ("title", "metric"),
    [
        ("Coverage errors (targets the audit could not read)", "CoverageErrors"),
        ("Notification errors (Slack and SNS deliveries given up)", "NotificationErrors"),
    ],
)
def test_run_wide_error_counts_are_summed_per_hour(synth: Synth, title: str, metric: str) -> None:
    (series,) = graphed(widgets(synth)[title])
    assert series == ["IpAudit", metric, "service", "ipaudit", {"period": 3600, "stat": "Sum"}]


def test_the_coverage_graph_shows_its_alarm_threshold(synth: Synth) -> None:
    widget = widgets(synth)["Coverage errors (targets the audit could not read)"]
    (line,) = widget["properties"]["annotations"]["horizontal"]
    assert line["value"] == 1


def test_the_audit_run_duration_is_drawn_against_its_timeout(synth: Synth) -> None:
    auditor = synth(audit_timeout_minutes="10").auditor
    function = logical_id(auditor, "AWS::Lambda::Function", "AuditFunction")
    widget = widgets(synth, audit_timeout_minutes="10")["Audit run duration"]
    (series,) = graphed(widget)
    assert series == [
        "AWS/Lambda",
        "Duration",
        "FunctionName",
        f"<{function}>",
        {"period": 3600, "stat": "Maximum"},
    ]
    (timeout,) = widget["properties"]["annotations"]["horizontal"]
    assert timeout == {"value": 600_000, "label": "timeout", "yAxis": "left"}


def test_every_alarm_of_the_stack_is_on_the_dashboard(synth: Synth) -> None:
    auditor = synth().auditor
    alarm = widgets(synth)["Alarms"]
    assert alarm["type"] == "alarm"
    on_dashboard = alarm["properties"]["alarms"]
    assert len(on_dashboard) == len(set(on_dashboard))
    assert set(on_dashboard) == {
        f"<{alarm_id}.Arn>" for alarm_id in auditor.find_resources("AWS::CloudWatch::Alarm")
    }
