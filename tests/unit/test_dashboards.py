"""dashboards/: the Grafana dashboard and the Prometheus alerting rules ask only for metrics the
exporter emits, and each file has the shape its tool loads."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from ipaudit.alert_rules import render_rules
from ipaudit.cli.serve_metrics import EXPORTER_GAUGES
from ipaudit.finding_kinds import FINDING_KINDS, KINDS, readme_table
from ipaudit.render.openmetrics import REPORT_GAUGES

DASHBOARDS = Path(__file__).resolve().parents[2] / "dashboards"
PACKAGE = DASHBOARDS.parent / "lambda" / "ipaudit"
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
        "ipaudit_subnet_time_until_full_seconds",
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
            keys = {"alert", "expr", "for", "labels", "annotations"}
            assert keys <= set(rule) <= {*keys, "keep_firing_for"}, rule
            assert DURATION.match(rule["for"]), rule["alert"]
            assert set(rule["labels"]) == {"severity"}
            assert {"summary", "description"} <= set(rule["annotations"])
    names = [rule["alert"] for rule in rules()]
    assert len(names) == len(set(names))


def test_the_shipped_rules_are_the_ones_rendered_from_the_finding_kinds() -> None:
    # `make rules` writes the file; a kind added without it fails here.
    assert (DASHBOARDS / "ipaudit-alerts.yaml").read_text() == render_rules()


def test_every_finding_kind_has_one_rule_paging_its_unmuted_findings_at_their_severity() -> None:
    by_kind = {}
    for rule in rules():
        kinds = re.findall(r'ipaudit_finding\{kind="([a-z_]+)", muted="false"', rule["expr"])
        for kind in kinds:
            by_kind.setdefault(kind, []).append(rule)

    assert set(by_kind) == set(KINDS)
    for kind, [rule] in by_kind.items():
        assert rule["labels"]["severity"] == "{{ $labels.severity | toLower }}", kind
        assert 'severity=~"CRITICAL|WARNING"' in rule["expr"], kind
        assert rule["keep_firing_for"] == "15m", kind
        label = KINDS[kind].resource_label
        assert (f'"{label}", "$1", "resource"' in rule["expr"]) == bool(label), kind


def test_no_rule_but_the_finding_rules_reads_a_figure_a_finding_judges() -> None:
    # Threshold rules beside the findings paged twice for one subnet (issue 22).
    judged = {
        "ipaudit_subnet_free_addresses",
        "ipaudit_subnet_node_startup_addresses",
        "ipaudit_subnet_time_until_full_seconds",
        "ipaudit_ceiling_nodes",
        "ipaudit_cluster_leaked_enis",
        "ipaudit_findings",
        "ipaudit_coverage_errors",
    }
    named = {name for rule in rules() for name in METRIC.findall(rule["expr"])}

    assert not named & judged


def kinds_raised_by_the_analysis() -> set[str]:
    """Every `kind` a finding constructor is called with anywhere in the package: a literal,
    or a module-level constant (`KIND = "..."`, imported under any name)."""
    constants: dict[tuple[str, str], str] = {}  # (module, name) -> string
    trees = {}
    for path in PACKAGE.rglob("*.py"):
        module = ".".join(("ipaudit", *path.relative_to(PACKAGE).with_suffix("").parts))
        trees[module] = tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                for target in node.targets:
                    if isinstance(target, ast.Name) and isinstance(node.value.value, str):
                        constants[(module, target.id)] = node.value.value
    kinds: set[str] = set()
    for module, tree in trees.items():
        aliases = {
            alias.asname or alias.name: (node.module, alias.name)
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module
            for alias in node.names
        }
        for call in ast.walk(tree):
            if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name):
                continue
            if call.func.id == "Finding":
                args = [k.value for k in call.keywords if k.arg == "kind"]
            elif call.func.id in ("_finding", "subnet_finding"):
                args = call.args[:1]
            else:
                continue
            for arg in args:
                if isinstance(arg, ast.Constant):
                    kinds.add(arg.value)
                elif isinstance(arg, ast.Name) and arg.id != "kind":  # `kind`: a pass-through
                    key = aliases.get(arg.id, (module, arg.id))
                    assert key in constants, f"{module}: kind {arg.id} is not a constant"
                    kinds.add(constants[key])
    return kinds


def test_every_kind_the_analysis_can_raise_is_declared_once() -> None:
    assert kinds_raised_by_the_analysis() == set(KINDS)
    assert len(KINDS) == len(FINDING_KINDS)


def test_the_readmes_table_of_findings_is_the_declarations() -> None:
    readme = (DASHBOARDS.parent / "README.md").read_text()

    assert readme_table() in readme


def test_tables_of_several_queries_merge_them_into_one_row_per_resource() -> None:
    tables = [p for p in dashboard()["panels"] if p["type"] == "table" and len(p["targets"]) > 1]

    assert tables
    for table in tables:
        ids = [t["id"] for t in table.get("transformations", [])]
        assert ids[:1] == ["merge"], table["title"]
        organize = table["transformations"][1]["options"]
        # Prometheus' own `instance` is the scrape target: the EC2 id is `instance_id`.
        assert organize["excludeByName"]["instance"] is True, table["title"]
        assert set(organize["renameByName"]) == {f"Value #{t['refId']}" for t in table["targets"]}


def test_every_stat_colours_by_thresholds_and_severities_have_their_own() -> None:
    stats = [p for p in dashboard()["panels"] if p["type"] == "stat"]

    assert stats
    for stat in stats:
        steps = stat["fieldConfig"]["defaults"]["thresholds"]["steps"]
        assert steps[0]["value"] is None and len(steps) >= 2, stat["title"]
    [findings] = [s for s in stats if "ipaudit_findings" in s["targets"][0]["expr"]]
    critical = findings["fieldConfig"]["defaults"]["thresholds"]["steps"]
    warning = {
        o["matcher"]["options"]: o["properties"][0]["value"]["steps"]
        for o in findings["fieldConfig"]["overrides"]
    }["WARNING"]
    assert [(s["color"], s["value"]) for s in critical] == [("green", None), ("red", 1)]
    assert [(s["color"], s["value"]) for s in warning] == [("green", None), ("orange", 1)]
