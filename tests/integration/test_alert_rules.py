"""dashboards/ipaudit-alerts.yaml under Debian's promtool (Prometheus 2.42): it loads, and its
unit tests (`promtool test rules`) hold for every rule: at each evaluation every alert of the
file is listed with the alerts expected from it (none, mostly), so "one alert per finding" is
checked against all the rules, not only the one meant to fire. Expectations are reasoned from
the series by hand."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

RULES = Path(__file__).resolve().parents[2] / "dashboards" / "ipaudit-alerts.yaml"
PROMTOOL = shutil.which("promtool")
pytestmark = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool missing: `make setup` installs it where apt runs as root"
)
BOUND = 120

TARGET = {"job": "ipaudit", "instance": "127.0.0.1:9809"}
WHERE = {"account": "111111111111", "region": "eu-west-1"}
# The exporter healthy throughout: a report served, no failed audit, a run 0 s after t=0.
HEALTHY = [
    ("ipaudit_up", {}, "1x40"),
    ("ipaudit_exporter_failed_audits", {}, "0x40"),
    ("ipaudit_run_timestamp_seconds", {}, "0x40"),
]


def rules() -> dict[str, dict[str, Any]]:
    loaded = yaml.safe_load(RULES.read_text())
    return {rule["alert"]: rule for group in loaded["groups"] for rule in group["rules"]}


def all_alerts() -> list[str]:
    return list(rules())


def annotations(rule: str, series: dict[str, str]) -> dict[str, str]:
    """The rule's annotations as Prometheus expands them for a series: its templates read only
    `$labels` (the series' own: severity as the audit wrote it)."""
    expanded = {}
    for name, template in rules()[rule]["annotations"].items():
        text = re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: series[m.group(1)], template)
        assert "{{" not in text, f"{rule}: a template this test does not expand: {text}"
        expanded[name] = text
    return expanded


def finding(
    kind: str, severity: str, resource: str, cluster: str = "prod", muted: str = "false"
) -> dict[str, str]:
    return {
        **WHERE,
        "cluster": cluster,
        "kind": kind,
        "severity": severity,
        "resource": resource,
        "muted": muted,
    }


Alert = tuple[dict[str, str], dict[str, str]]  # labels, the series' labels


def alert(severity: str, labels: dict[str, str], **added: str) -> Alert:
    """An alert's labels: the series', the scrape target's, the severity as Alertmanager
    routes read it, and the label naming the resource."""
    series = {**TARGET, **labels, **added}
    return {**series, "severity": severity}, series


def exporter_alert(**labels: str) -> Alert:
    return {**labels, "severity": "warning"}, labels


def promtool_input(series: list[tuple[str, dict[str, str], str]]) -> list[dict[str, str]]:
    out = []
    for name, labels, values in series:
        selector = ", ".join(f"{k}={json.dumps(v)}" for k, v in {**TARGET, **labels}.items())
        out.append({"series": f"{name}{{{selector}}}", "values": values})
    return out


def group(
    name: str,
    series: list[tuple[str, dict[str, str], str]],
    expected: dict[str, dict[str, list[Alert]]],
) -> dict[str, Any]:
    """A promtool test group; `expected` maps an evaluation time to the alerts firing then, by
    rule. Every rule not named there is expected silent."""
    tests = [
        {
            "eval_time": at,
            "alertname": rule,
            "exp_alerts": [
                {"exp_labels": labels, "exp_annotations": annotations(rule, series)}
                for labels, series in firing.get(rule, [])
            ],
        }
        for at, firing in expected.items()
        for rule in all_alerts()
    ]
    return {
        "name": name,
        "interval": "1m",
        "input_series": promtool_input(series),
        "alert_rule_test": tests,
    }


def test_the_rules_file_loads_in_prometheus() -> None:
    done = subprocess.run(
        [str(PROMTOOL), "check", "rules", str(RULES)],
        capture_output=True,
        text=True,
        timeout=BOUND,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(all_alerts())} rules found" in done.stdout


# The groups: at 10m a finding present since 0 has been true for longer than the rules' 5m.

MUTED = finding("subnet_headroom", "CRITICAL", "subnet-m", muted="true")
CONTROL_PLANE = finding("subnet_headroom", "CRITICAL", "subnet-cp")
NODEPOOL = finding("scale_ceiling", "CRITICAL", "nodepool/default")
FULL = finding("subnet_headroom", "CRITICAL", "subnet-a")
SHARED = finding("subnet_headroom", "WARNING", "subnet-s", cluster="-")
SOON = finding("subnet_forecast", "CRITICAL", "subnet-x")
LATER = finding("subnet_forecast", "WARNING", "subnet-y")
SUBNET_WHERE = {**WHERE, "vpc": "vpc-1", "az": "eu-west-1a"}


def groups() -> list[dict[str, Any]]:
    return [
        group(
            "a muted finding pages no one",
            [*HEALTHY, ("ipaudit_finding", MUTED, "1x40")],
            {"10m": {}, "30m": {}},
        ),
        group(
            # Karpenter NodePool without spec.limits: no ipaudit_ceiling_max_nodes at all, and
            # its subnets start no node; the audit's CRITICAL is the alert.
            "an unlimited NodePool that cannot start a node fires, critical",
            [
                *HEALTHY,
                ("ipaudit_finding", NODEPOOL, "1x40"),
                (
                    "ipaudit_ceiling_nodes",
                    {
                        **WHERE,
                        "cluster": "prod",
                        "group": "default",
                        "kind": "nodepool",
                        "instance_type": "m5.large",
                    },
                    "0x40",
                ),
            ],
            {
                "4m": {},  # pending: not yet 5m
                "10m": {"IpauditScaleCeiling": [alert("critical", NODEPOOL, group="default")]},
            },
        ),
        group(
            # 3 free of 11 in a control-plane-only subnet: fewer than the 6 EKS needs.
            "a control-plane subnet below EKS's 6 free fires, critical",
            [
                *HEALTHY,
                ("ipaudit_finding", CONTROL_PLANE, "1x40"),
                (
                    "ipaudit_subnet_free_addresses",
                    {**SUBNET_WHERE, "subnet": "subnet-cp", "cluster": "prod"},
                    "3x40",
                ),
                (
                    "ipaudit_subnet_usable_addresses",
                    {**SUBNET_WHERE, "subnet": "subnet-cp", "cluster": "prod"},
                    "11x40",
                ),
            ],
            {
                "10m": {
                    "IpauditSubnetHeadroom": [alert("critical", CONTROL_PLANE, subnet="subnet-cp")]
                }
            },
        ),
        group(
            "forecasts alert at the audit's severities: within 3 days critical, 14 warning",
            [
                *HEALTHY,
                ("ipaudit_finding", SOON, "1x40"),
                ("ipaudit_finding", LATER, "1x40"),
                (
                    "ipaudit_subnet_time_until_full_seconds",
                    {**SUBNET_WHERE, "subnet": "subnet-x", "cluster": "prod"},
                    f"{2 * 86400}x40",
                ),
                (
                    "ipaudit_subnet_time_until_full_seconds",
                    {**SUBNET_WHERE, "subnet": "subnet-y", "cluster": "prod"},
                    f"{10 * 86400}x40",
                ),
            ],
            {
                "10m": {
                    "IpauditSubnetForecast": [
                        alert("critical", SOON, subnet="subnet-x"),
                        alert("warning", LATER, subnet="subnet-y"),
                    ]
                }
            },
        ),
        group(
            # A subnet at 0 free, below its start-up need, and a subnet two clusters share,
            # listed under both: each is one finding, so one alert each, from one rule.
            "one alert per finding, however many figures say the subnet is short",
            [
                *HEALTHY,
                ("ipaudit_finding", FULL, "1x40"),
                ("ipaudit_finding", SHARED, "1x40"),
                *(
                    (name, {**SUBNET_WHERE, "subnet": "subnet-a", "cluster": "prod"}, values)
                    for name, values in (
                        ("ipaudit_subnet_free_addresses", "0x40"),
                        ("ipaudit_subnet_usable_addresses", "1019x40"),
                    )
                ),
                (
                    "ipaudit_subnet_node_startup_addresses",
                    {
                        **SUBNET_WHERE,
                        "subnet": "subnet-a",
                        "cluster": "prod",
                        "instance_type": "m5.8xlarge",
                    },
                    "30x40",
                ),
                *(
                    (
                        "ipaudit_subnet_free_addresses",
                        {**SUBNET_WHERE, "subnet": "subnet-s", "cluster": name},
                        "200x40",
                    )
                    for name in ("prod", "batch")
                ),
            ],
            {
                "10m": {
                    "IpauditSubnetHeadroom": [
                        alert("critical", FULL, subnet="subnet-a"),
                        alert("warning", SHARED, subnet="subnet-s"),
                    ]
                }
            },
        ),
        group(
            "every other kind pages with the label naming its resource; INFO pages no one",
            [
                *HEALTHY,
                *(
                    ("ipaudit_finding", labels, "1x40")
                    for labels in (
                        finding("pod_pool_headroom", "WARNING", "eu-west-1a"),
                        finding("eks_health", "CRITICAL", "InsufficientFreeAddresses"),
                        finding("leaked_enis", "WARNING", "vpc-1"),
                        finding("warm_pool_waste", "WARNING", "prod"),
                        finding("pods_without_addresses", "CRITICAL", "prod"),
                        finding("coverage", "WARNING", "111111111111/eu-west-1", cluster="-"),
                        finding("eks_health", "INFO", "SomethingHarmless"),
                        finding("network_address_usage", "CRITICAL", "vpc-1"),
                        finding("peered_network_address_usage", "WARNING", "vpc-2", cluster="-"),
                        finding("network_address_usage_forecast", "WARNING", "vpc-3"),
                    )
                ),
            ],
            {
                "10m": {
                    "IpauditPodPoolHeadroom": [
                        alert(
                            "warning",
                            finding("pod_pool_headroom", "WARNING", "eu-west-1a"),
                            az="eu-west-1a",
                        )
                    ],
                    "IpauditEksHealth": [
                        alert(
                            "critical",
                            finding("eks_health", "CRITICAL", "InsufficientFreeAddresses"),
                            issue="InsufficientFreeAddresses",
                        )
                    ],
                    "IpauditLeakedEnis": [
                        alert("warning", finding("leaked_enis", "WARNING", "vpc-1"), vpc="vpc-1")
                    ],
                    "IpauditWarmPoolWaste": [
                        alert("warning", finding("warm_pool_waste", "WARNING", "prod"))
                    ],
                    "IpauditPodsWithoutAddresses": [
                        alert("critical", finding("pods_without_addresses", "CRITICAL", "prod"))
                    ],
                    "IpauditCoverage": [
                        alert(
                            "warning",
                            finding("coverage", "WARNING", "111111111111/eu-west-1", cluster="-"),
                            scope="111111111111/eu-west-1",
                        )
                    ],
                    "IpauditNetworkAddressUsage": [
                        alert(
                            "critical",
                            finding("network_address_usage", "CRITICAL", "vpc-1"),
                            vpc="vpc-1",
                        )
                    ],
                    "IpauditPeeredNetworkAddressUsage": [
                        alert(
                            "warning",
                            finding(
                                "peered_network_address_usage", "WARNING", "vpc-2", cluster="-"
                            ),
                            vpc="vpc-2",
                        )
                    ],
                    "IpauditNetworkAddressUsageForecast": [
                        alert(
                            "warning",
                            finding("network_address_usage_forecast", "WARNING", "vpc-3"),
                            vpc="vpc-3",
                        )
                    ],
                }
            },
        ),
        group(
            # FULL: samples 0..10m, none 11..20m, again from 21m; queries still see the 10m
            # sample for 5m (the lookback), so it is gone 16..20m (an exporter restart that
            # served nothing). Without keep_firing_for it would resolve at 16m and, back at
            # 21m, fire again only at 26m: at 24m it fires. CONTROL_PLANE: samples 0..10m only,
            # last seen at 15m, held 15m more: firing at 27m, resolved at 32m.
            "a gap in a finding's series shorter than 15m resolves nothing",
            [
                *HEALTHY,
                ("ipaudit_finding", FULL, "1x10 _x10 1x19"),
                ("ipaudit_finding", CONTROL_PLANE, "1x10 _x30"),
            ],
            {
                "15m": {
                    "IpauditSubnetHeadroom": [
                        alert("critical", FULL, subnet="subnet-a"),
                        alert("critical", CONTROL_PLANE, subnet="subnet-cp"),
                    ]
                },
                "24m": {
                    "IpauditSubnetHeadroom": [
                        alert("critical", FULL, subnet="subnet-a"),
                        alert("critical", CONTROL_PLANE, subnet="subnet-cp"),
                    ]
                },
                "27m": {
                    "IpauditSubnetHeadroom": [
                        alert("critical", FULL, subnet="subnet-a"),
                        alert("critical", CONTROL_PLANE, subnet="subnet-cp"),
                    ]
                },
                "32m": {"IpauditSubnetHeadroom": [alert("critical", FULL, subnet="subnet-a")]},
            },
        ),
        group(
            # Failed audits counted 0, 1, 2, 3, 4 a minute apart from 10m; the run is old.
            "three failed audits in a row page once, not also as a stale run",
            [
                ("ipaudit_up", {}, "1x40"),
                ("ipaudit_exporter_failed_audits", {}, "0x10 1 2 3 4x20"),
                ("ipaudit_run_timestamp_seconds", {}, "-20000x40"),
            ],
            {
                "12m": {"IpauditRunStale": [exporter_alert(**TARGET)]},
                "13m": {"IpauditAuditsFailing": [exporter_alert(**TARGET)]},
            },
        ),
        group(
            "an exporter without a report for 30m, and no ipaudit data for 15m, page",
            [
                ("ipaudit_up", {}, "0x40"),
                ("ipaudit_exporter_failed_audits", {}, "0x40"),
            ],
            {
                "20m": {"IpauditNoData": [exporter_alert()]},
                "35m": {
                    "IpauditNoData": [exporter_alert()],
                    "IpauditNoReport": [exporter_alert(**TARGET)],
                },
            },
        ),
    ]


def test_promtool_unit_tests_of_every_rule_pass(tmp_path: Path) -> None:
    tests = tmp_path / "ipaudit-alerts.test.yaml"
    tests.write_text(
        yaml.safe_dump({"rule_files": [str(RULES)], "evaluation_interval": "1m", "tests": groups()})
    )
    tested = {t["alertname"] for g in groups() for t in g["alert_rule_test"]}
    fired = {t["alertname"] for g in groups() for t in g["alert_rule_test"] if t["exp_alerts"]}

    done = subprocess.run(
        [str(PROMTOOL), "test", "rules", str(tests)],
        capture_output=True,
        text=True,
        timeout=BOUND,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert tested == fired == set(all_alerts())  # every rule shown firing and silent


@pytest.mark.skipif(shutil.which("amtool") is None, reason="amtool comes with Alertmanager")
def test_the_documented_alertmanager_routing_example_loads(tmp_path: Path) -> None:
    docs = (RULES.parents[1] / "docs" / "alerts.md").read_text()
    [example] = re.findall(r"```yaml\n(# alertmanager.yml\n.*?)```", docs, re.DOTALL)
    config = tmp_path / "alertmanager.yml"
    config.write_text(example)

    done = subprocess.run(
        ["amtool", "check-config", str(config)],
        capture_output=True,
        text=True,
        timeout=BOUND,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 inhibit rules" in done.stdout
