"""On-call's path, over loopback: `ipaudit serve-metrics` auditing the moto server and a local
Kubernetes API, Debian's Prometheus 2.42 scraping it with the shipped rules (evaluated every
second; `for:` shortened in a copy, nothing else changed), Debian's Alertmanager 0.25 receiving
the alerts. The firing alerts are the audit's unmuted findings, one each, at their severity; a
restart of the exporter resolves none of them. Waits are polls with a bound; every process is
stopped by its PID."""

from __future__ import annotations

import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import boto3
import pytest
from support.openmetrics_spec import scraped, series

from ipaudit.cli.serve_metrics import LISTENING, RESTORED, SERVING
from ipaudit.store.latest import latest_run
from ipaudit.store.table import create_table
from ipaudit_sim.aws import MotoServer
from ipaudit_sim.kube_api import KubeApiServer
from ipaudit_sim.seed import NodeSpec, SubnetSpec, seed_cluster
from tests.integration.cluster_builder import moto_environment

PROMETHEUS = shutil.which("prometheus")
ALERTMANAGER = shutil.which("prometheus-alertmanager")
pytestmark = pytest.mark.skipif(
    PROMETHEUS is None or ALERTMANAGER is None,
    reason="Debian's prometheus and prometheus-alertmanager missing: `make setup` installs "
    "them where apt runs as root",
)
RULES = Path(__file__).resolve().parents[2] / "dashboards" / "ipaudit-alerts.yaml"
REGION = "eu-west-1"
TABLE = "ipaudit-e2e"
BOUND = 120.0  # seconds: a bound on a hang, not a wait for timing
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def poll(check: Callable[[], T | None], what: str) -> T:
    """`check()` until it answers (not None), up to BOUND seconds."""
    deadline = time.monotonic() + BOUND
    while True:
        answer = check()
        if answer is not None:
            return answer
        assert time.monotonic() < deadline, f"no {what} within {BOUND:g}s"
        time.sleep(0.25)  # between polls; nothing is timed by it


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.load(answer)


class Daemon:
    """A process of ours, its output in a file, stopped by its PID."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.log = log
        with log.open("w") as out:
            self.process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=BOUND)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=BOUND)

    def printed(self, start: str) -> str | None:
        assert self.process.poll() is None, self.log.read_text()
        for line in self.log.read_text().splitlines():
            if line.startswith(f"ipaudit: {start}"):
                return line
        return None


@pytest.fixture
def world(moto_server: MotoServer) -> Iterator[dict[str, str]]:
    """Cluster shop (m5.large: 3 ENIs x 10 addresses) with a table and a mute:

    - subnet 10.60.0.0/24 (251 usable): a node with one ENI of 10 addresses, 5 pods;
    - subnet 10.60.1.0/27 (27 usable): a node with two ENIs of 10 (20 addresses), 3 pods, and
      a leaked ENI of 4: 27 - 24 = 3 free (11.1%). A new m5.large takes at least its primary
      ENI's 10 addresses at start-up under aws-node's defaults: CRITICAL subnet_headroom;
    - the leaked ENI: a WARNING leaked_enis, muted by IPAUDIT_MUTES: no alert;
    - the subnets short, pods 8 of the 27 secondary addresses the nodes hold for them (9 + 18):
      19 warm, over 20%: WARNING warm_pool_waste on the cluster.
    """
    with moto_environment(moto_server, REGION) as env:
        session = boto3.Session(region_name=REGION)
        create_table(session.client("dynamodb"), TABLE)
        shop = seed_cluster(
            session,
            name="shop",
            vpc_cidr="10.60.0.0/16",
            subnets=[
                SubnetSpec("10.60.0.0/24", "eu-west-1a"),
                SubnetSpec("10.60.1.0/27", "eu-west-1b"),
            ],
            nodes=[
                NodeSpec(subnet=0, eni_addresses=(10,), pods=5, instance_type="m5.large"),
                NodeSpec(subnet=1, eni_addresses=(10, 10), pods=3, instance_type="m5.large"),
            ],
            leaked_enis=[(1, 4)],
        )
        kube = KubeApiServer(shop.name)
        kube.nodes, kube.pods = shop.kube_nodes, shop.kube_pods
        kube.daemonsets = shop.kube_daemonsets
        mute = {"cluster": "shop", "kind": "leaked_enis", "reason": "e2e", "expires": "2099-01-01"}
        yield {
            **env,
            "IPAUDIT_REGIONS": REGION,
            "IPAUDIT_TABLE": TABLE,
            "IPAUDIT_MUTES": json.dumps([mute]),
            "IPAUDIT_KUBE_ENDPOINTS": f"shop={kube.start()}",
            "SUBNET_SHORT": shop.subnet_ids[1],
        }
        kube.stop()


def serve(env: dict[str, str], port: int, log: Path) -> Daemon:
    args = ["serve-metrics", "--port", str(port), "--interval", "3600", "--no-notify"]
    return Daemon([sys.executable, "-m", "ipaudit", *args], log, env)


def test_alertmanager_gets_one_alert_per_unmuted_finding_and_a_restart_resolves_none(
    world: dict[str, str], tmp_path: Path
) -> None:
    exporter_port, prometheus_port, alertmanager_port = free_port(), free_port(), free_port()
    # The shipped rules with `for:` shortened, and only that.
    rules = tmp_path / "rules.yaml"
    shipped = RULES.read_text()
    rules.write_text(re.sub(r"(?m)^(\s+for: )5m$", r"\g<1>1s", shipped))
    assert rules.read_text() != shipped
    (tmp_path / "alertmanager.yml").write_text(
        "route: {receiver: on-call, group_by: [alertname, cluster, severity]}\n"
        "receivers: [{name: on-call}]\n"
    )
    (tmp_path / "prometheus.yml").write_text(
        json.dumps(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [str(rules)],
                "alerting": {
                    "alertmanagers": [
                        {"static_configs": [{"targets": [f"127.0.0.1:{alertmanager_port}"]}]}
                    ]
                },
                "scrape_configs": [
                    {
                        "job_name": "ipaudit",
                        "static_configs": [{"targets": [f"127.0.0.1:{exporter_port}"]}],
                    }
                ],
            }
        )
    )
    daemons: list[Daemon] = []
    try:
        exporter = serve(world, exporter_port, tmp_path / "exporter-1.log")
        daemons.append(exporter)
        alertmanager = Daemon(
            [
                str(ALERTMANAGER),
                f"--config.file={tmp_path / 'alertmanager.yml'}",
                f"--storage.path={tmp_path / 'alertmanager'}",
                f"--web.listen-address=127.0.0.1:{alertmanager_port}",
                "--cluster.listen-address=",  # one instance: no gossip port
            ],
            tmp_path / "alertmanager.log",
        )
        daemons.append(alertmanager)
        prometheus = Daemon(
            [
                str(PROMETHEUS),
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'prometheus'}",
                f"--web.listen-address=127.0.0.1:{prometheus_port}",
            ],
            tmp_path / "prometheus.log",
        )
        daemons.append(prometheus)
        poll(lambda: exporter.printed(SERVING), "first audit")

        expected = {
            ("IpauditSubnetHeadroom", "subnet_headroom", world["SUBNET_SHORT"], "critical"),
            ("IpauditWarmPoolWaste", "warm_pool_waste", "shop", "warning"),
        }
        # ... which are the audit's own unmuted WARNING and CRITICAL findings.
        stored = latest_run(boto3.client("dynamodb", region_name=REGION), TABLE)
        assert stored is not None
        findings = {
            (f.kind, f.resource, f.severity.lower())
            for f in stored.findings
            if not f.muted and f.severity in ("CRITICAL", "WARNING")
        }
        assert findings == {(kind, resource, sev) for _, kind, resource, sev in expected}
        assert [f.kind for f in stored.findings if f.muted] == ["leaked_enis"]

        def alertmanager_alerts() -> dict[str, dict[str, Any]] | None:
            alerts = get_json(f"http://127.0.0.1:{alertmanager_port}/api/v2/alerts")
            firing = {
                (
                    a["labels"]["alertname"],
                    a["labels"].get("kind"),
                    a["labels"].get("resource"),
                    a["labels"]["severity"],
                ): a
                for a in alerts
                if a["status"]["state"] == "active"
            }
            return firing if set(firing) == expected else None

        before = poll(alertmanager_alerts, "the findings' alerts in Alertmanager")
        assert len(before) == len(expected)  # one alert per finding, nothing else
        for (_, _, _, _), alert in before.items():
            assert alert["labels"]["cluster"] == "shop"
            assert alert["labels"]["instance"] == f"127.0.0.1:{exporter_port}"
        [subnet_alert] = [a for k, a in before.items() if k[1] == "subnet_headroom"]
        assert subnet_alert["labels"]["subnet"] == world["SUBNET_SHORT"]
        active = prometheus_active_at(prometheus_port)
        assert set(active) == {(k[0], k[2]) for k in expected}

        # Restart: the new process serves the stored run from its first scrape on.
        exporter.stop()
        exporter = serve(world, exporter_port, tmp_path / "exporter-2.log")
        daemons.append(exporter)
        poll(lambda: exporter.printed(LISTENING), "the restarted exporter listening")
        assert exporter.printed(RESTORED) is not None
        first = scraped(fetch(f"http://127.0.0.1:{exporter_port}/metrics"))
        served = {
            (dict(labels)["kind"], dict(labels)["resource"])
            for (name, labels) in first
            if name == "ipaudit_finding" and dict(labels)["muted"] == "false"
        }
        assert {(k[1], k[2]) for k in expected} <= served
        poll(lambda: exporter.printed(SERVING), "the restarted exporter's audit")
        rerun = latest_run(boto3.client("dynamodb", region_name=REGION), TABLE)
        assert rerun is not None and rerun.run_id != stored.run_id

        # Prometheus has scraped the new audit (its run's time) and evaluated the rules.
        new_time = scraped(fetch(f"http://127.0.0.1:{exporter_port}/metrics"))[
            series("ipaudit_run_timestamp_seconds")
        ]
        poll(
            lambda: (
                True
                if prometheus_value(prometheus_port, "ipaudit_run_timestamp_seconds") == new_time
                else None
            ),
            "Prometheus scraping the new audit",
        )
        assert first[series("ipaudit_exporter_report_source", source="table")] == 1
        after = poll(alertmanager_alerts, "the same alerts after the restart")
        assert prometheus_active_at(prometheus_port) == active  # none resolved and re-fired
        assert {k: a["startsAt"] for k, a in after.items()} == {
            k: a["startsAt"] for k, a in before.items()
        }
    finally:
        for daemon in reversed(daemons):
            daemon.stop()


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return str(answer.read().decode())


def prometheus_active_at(port: int) -> dict[tuple[str, str], str]:
    """Prometheus' firing alerts with a finding behind them: (rule, resource) -> since when."""
    alerts = get_json(f"http://127.0.0.1:{port}/api/v1/alerts")["data"]["alerts"]
    return {
        (a["labels"]["alertname"], a["labels"]["resource"]): a["activeAt"]
        for a in alerts
        if a["state"] == "firing" and "kind" in a["labels"]
    }


def prometheus_value(port: int, query: str) -> float | None:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": query})
    result = get_json(url)["data"]["result"]
    return float(result[0]["value"][1]) if result else None
