"""dashboards/: the Grafana dashboard and the Prometheus alerting rules ask only for metrics the
exporter emits, and each file has the shape its tool loads."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from ipaudit.cli.serve_metrics import EXPORTER_GAUGES
from ipaudit.report_openmetrics import REPORT_GAUGES

DASHBOARDS = Path(__file__).resolve().parents[2] / "dashboards"
EMITTED = {gauge.name for gauge in (*EXPORTER_GAUGES, *REPORT_GAUGES)}
METRIC = re.compile(r"\bipaudit_[a-z_]+")
DURATION = re.compile(r"^\d+[smhdwy]$")


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((DASHBOARDS / "ipaudit.json").read_text())
    return loaded


def rules() -> list[dict[str, Any]]:
    loaded = yaml.safe_load((DASHBOARDS / "ipaudit-alerts.yaml").read_text())
    return [rule for group in loaded["groups"] for rule in group["rules"]]


def dashboard_queries() -> list[str]:
    board = dashboard()
    exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    variables = board["templating"]["list"]
    return exprs + [v["definition"] for v in variables if v["type"] == "query"]


@pytest.mark.parametrize(
    ("source", "queries"),
    [("dashboard", dashboard_queries()), ("alerting rules", [r["expr"] for r in rules()])],
)
def test_every_metric_a_query_names_is_one_the_exporter_emits(
    source: str, queries: list[str]
) -> None:
    named = {name for query in queries for name in METRIC.findall(query)}

    assert named, source
    assert named <= EMITTED, f"{source} asks for {sorted(named - EMITTED)}"


def test_the_dashboard_has_grafanas_shape_and_a_prometheus_datasource_variable() -> None:
    board = dashboard()

    assert isinstance(board["schemaVersion"], int)
    [datasource] = [v for v in board["templating"]["list"] if v["name"] == "datasource"]
    assert (datasource["type"], datasource["query"]) == ("datasource", "prometheus")
    graphs = [p for p in board["panels"] if p["type"] != "row"]
    assert len({p["id"] for p in board["panels"]}) == len(board["panels"])
    assert all(p["datasource"]["uid"] == "${datasource}" for p in graphs)
    assert all(t["datasource"]["uid"] == "${datasource}" for p in graphs for t in p["targets"])


def test_the_dashboard_shows_what_on_call_and_managers_read() -> None:
    named = {name for query in dashboard_queries() for name in METRIC.findall(query)}

    assert named >= {
        "ipaudit_subnet_free_addresses",
        "ipaudit_subnet_free_prefix_blocks",
        "ipaudit_subnet_days_until_full",
        "ipaudit_cluster_addresses_held",
        "ipaudit_cluster_pods",
        "ipaudit_cluster_warm_addresses",
        "ipaudit_cluster_leaked_enis",
        "ipaudit_coverage_errors",
        "ipaudit_findings",
    }


def test_the_rules_file_has_prometheus_rule_file_shape() -> None:
    loaded = yaml.safe_load((DASHBOARDS / "ipaudit-alerts.yaml").read_text())

    assert set(loaded) == {"groups"}
    for group in loaded["groups"]:
        assert set(group) == {"name", "rules"} and group["rules"]
        for rule in group["rules"]:
            assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}, rule
            assert DURATION.match(rule["for"]), rule["alert"]
            assert rule["labels"]["severity"] in {"critical", "warning"}
            assert {"summary", "description"} <= set(rule["annotations"])
    names = [rule["alert"] for rule in rules()]
    assert len(names) == len(set(names))


def test_the_rules_mirror_the_findings() -> None:
    exprs = {rule["alert"]: rule["expr"] for rule in rules()}

    assert "< 0.10" in exprs["IpauditSubnetFreeCritical"]
    assert "< 0.25" in exprs["IpauditSubnetFreeLow"]
    assert "ipaudit_subnet_node_startup_addresses" in exprs["IpauditSubnetBelowNodeStartup"]
    assert "ipaudit_subnet_days_until_full" in exprs["IpauditSubnetFullSoon"]
    assert "< 7" in exprs["IpauditSubnetFullSoon"]
    assert "ipaudit_cluster_leaked_enis" in exprs["IpauditLeakedEnis"]
    assert "ipaudit_coverage_errors" in exprs["IpauditCoverageErrors"]
    assert "ipaudit_run_timestamp_seconds" in exprs["IpauditRunStale"]
