"""`--output openmetrics` and `ipaudit serve-metrics`: every gauge equals the JSON report's field
for the same world, scraped over loopback HTTP from the running command, which stops cleanly on
SIGTERM and Ctrl-C; the audit loop and the scrape endpoint driven without sleeps."""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as strict_openmetrics,
)
from support.openmetrics_spec import DERIVED, from_report, scraped, series, without
from support.reports import cluster, report, subnet

from ipaudit.cli import main
from ipaudit.cli.serve_metrics import (
    EXPORTER_GAUGES,
    LISTENING,
    SERVING,
    Exporter,
    MetricsServer,
    audit_loop,
)
from ipaudit.render.openmetrics import CONTENT_TYPE, REPORT_GAUGES, render_openmetrics
from ipaudit.report import Coverage, Report
from ipaudit.report_codec import report_from_dict
from ipaudit_sim.aws import MotoServer
from ipaudit_sim.kube_api import KubeApiServer
from ipaudit_sim.seed import NodeSpec, SubnetSpec, seed_cluster
from tests.integration.cluster_builder import moto_environment

REGION = "eu-west-1"
BOUND = 120  # seconds: a bound on a hang, not a wait for timing
RUN_TIME = frozenset({"ipaudit_run_timestamp_seconds"})  # each audit has its own
EXPORTER = frozenset(gauge.name for gauge in EXPORTER_GAUGES)


def ipaudit(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ipaudit", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=BOUND,
        check=False,
    )


@pytest.fixture(scope="module")
def world(moto_server: MotoServer) -> Iterator[dict[str, str]]:
    """An account with a cluster (two subnets, a leaked ENI) whose API answers and one whose API
    is down; the environment a subprocess audits it with."""
    with moto_environment(moto_server, REGION) as env:
        session = boto3.Session(region_name=REGION)
        shop = seed_cluster(
            session,
            name="shop",
            vpc_cidr="10.40.0.0/16",
            subnets=[
                SubnetSpec("10.40.0.0/24", "eu-west-1a"),
                SubnetSpec("10.40.1.0/26", "eu-west-1b"),
            ],
            nodes=[
                NodeSpec(subnet=0, eni_addresses=(10, 10), pods=12, instance_type="m5.large"),
                NodeSpec(subnet=1, eni_addresses=(10,), pods=3, instance_type="m5.large"),
            ],
            leaked_enis=[(1, 4)],
        )
        dark = seed_cluster(
            session,
            name="dark",
            vpc_cidr="10.50.0.0/16",
            subnets=[SubnetSpec("10.50.0.0/24", "eu-west-1a")],
            nodes=[NodeSpec(subnet=0, eni_addresses=(10,), pods=4, instance_type="m5.large")],
        )
        servers = {}
        for seeded in (shop, dark):
            server = KubeApiServer(seeded.name)
            server.nodes, server.pods = seeded.kube_nodes, seeded.kube_pods
            server.daemonsets = seeded.kube_daemonsets
            servers[seeded.name] = server
        endpoints = ",".join(f"{name}={s.start()}" for name, s in servers.items())
        servers["dark"].stop()  # its API is down: pods unknown, a coverage error
        yield {**env, "IPAUDIT_REGIONS": REGION, "IPAUDIT_KUBE_ENDPOINTS": endpoints}
        servers["shop"].stop()


@pytest.fixture(scope="module")
def audited(world: dict[str, str]) -> dict[str, Any]:
    done = ipaudit(world, "audit", "--json")
    assert done.returncode == 0, done.stderr
    report_json: dict[str, Any] = json.loads(done.stdout)
    return report_json


def test_audit_output_openmetrics_equals_the_json_report_of_the_same_world(
    world: dict[str, str], audited: dict[str, Any]
) -> None:
    done = ipaudit(world, "audit", "--output", "openmetrics")

    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith("# EOF\n")
    assert without(scraped(done.stdout), DERIVED | RUN_TIME) == without(
        from_report(audited), RUN_TIME
    )
    dark = {"account": "123456789012", "region": REGION, "cluster": "dark"}
    assert series("ipaudit_cluster_pods", **dark) not in scraped(done.stdout)


class Served:
    """`ipaudit serve-metrics` running, its stderr read line by line on a thread."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ipaudit", "serve-metrics", "--port", "0", *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.printed: list[str] = []

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_for(self, start: str) -> str:
        while True:
            line = self.lines.get(timeout=BOUND)
            assert line is not None, f"serve-metrics exited: {self.printed}"
            self.printed.append(line)
            if line.startswith(f"ipaudit: {start}"):
                return line

    def stop(self, how: signal.Signals) -> int:
        self.process.send_signal(how)
        return self.process.wait(timeout=BOUND)


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_serve_metrics_serves_the_audit_over_http_and_stops_cleanly(
    world: dict[str, str], audited: dict[str, Any], how: signal.Signals
) -> None:
    served = Served(world, "--interval", "3600", "--no-notify")
    try:
        url = served.wait_for(LISTENING).split(LISTENING, 1)[1]
        served.wait_for(SERVING)
        with urllib.request.urlopen(url, timeout=BOUND) as answer:
            content_type, text = answer.headers["Content-Type"], answer.read().decode()
    finally:
        code = served.stop(how)

    assert url.startswith("http://127.0.0.1:") and url.endswith("/metrics")
    assert content_type == CONTENT_TYPE
    samples = scraped(text)
    assert samples[series("ipaudit_up")] == 1
    assert samples[series("ipaudit_exporter_last_audit_success")] == 1
    assert samples[series("ipaudit_exporter_report_source", source="audit")] == 1
    report_part = without(samples, DERIVED | RUN_TIME | EXPORTER)
    assert report_part == without(from_report(audited), RUN_TIME)
    assert code == 0
    assert served.lines.get(timeout=BOUND) == f"ipaudit: serve-metrics: {how.name}, stopping"


@pytest.mark.parametrize(
    "args",
    [
        ["--port", "8080", "--interval", "59"],
        ["--port", "8080", "--interval", "86401"],
        ["--port", "8080", "--interval", "often"],
        ["--port", "65536"],
        ["--port", "-1"],
        [],
    ],
    ids=[
        "interval-below-60s",
        "interval-above-24h",
        "interval-not-a-number",
        "port",
        "negative",
        "no-port",
    ],
)
def test_a_bad_command_line_is_a_usage_error(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["serve-metrics", *args])

    assert stopped.value.code == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("ipaudit serve-metrics: error: ")


def test_a_port_it_cannot_listen_on_is_a_configuration_error(
    world: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.MonkeyPatch.context() as patch:
            for name, value in world.items():
                patch.setenv(name, value)
            code = main(["serve-metrics", "--port", str(port)])

    assert code == 1
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"ipaudit: error: --bind/--port: cannot listen on 127.0.0.1:{port}")


def test_a_bad_setting_stops_it_before_it_listens(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["serve-metrics", "--port", "0", "--warn-free-pct", "lots"])

    assert code == 1
    assert (
        capsys.readouterr().err == "ipaudit: error: IPAUDIT_WARN_FREE_PCT: 'lots' is not a number\n"
    )


# The loop and the endpoint in-process: events instead of time.


def get(
    server: MetricsServer, path: str = "/metrics", accept: str | None = None
) -> tuple[str, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{server.port}{path}")
    if accept is not None:
        request.add_header("Accept", accept)
    with urllib.request.urlopen(request, timeout=BOUND) as answer:
        return answer.headers["Content-Type"], answer.read().decode()


@pytest.fixture
def endpoint() -> Iterator[tuple[Exporter, MetricsServer]]:
    exporter = Exporter()
    with MetricsServer(("127.0.0.1", 0), exporter) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        yield exporter, server
        server.shutdown()


def prod_report(run_id: str = "run-1") -> Report:
    return report([cluster("prod", [subnet("subnet-a", free=40)])], run_id=run_id)


def test_before_the_first_audit_finishes_it_answers_up_0_not_an_error(
    endpoint: tuple[Exporter, MetricsServer],
) -> None:
    exporter, server = endpoint
    release, stop = threading.Event(), threading.Event()
    served = threading.Event()

    def slow_audit() -> Report:
        assert release.wait(BOUND)
        return prod_report()

    def say(line: str) -> None:
        if line.startswith(SERVING):
            served.set()

    loop = threading.Thread(target=audit_loop, args=(slow_audit, exporter, stop.wait, 60.0, say))
    loop.start()
    _, before = get(server)
    release.set()
    assert served.wait(BOUND)
    _, after = get(server)
    stop.set()
    loop.join(BOUND)

    assert scraped(before) == {series("ipaudit_up"): 0, series("ipaudit_exporter_failed_audits"): 0}
    families = [f.name for f in strict_openmetrics(before)]
    assert families == [g.name for g in (*EXPORTER_GAUGES, *REPORT_GAUGES)]
    assert scraped(after)[series("ipaudit_up")] == 1
    assert without(scraped(after), EXPORTER) == scraped(render_openmetrics(prod_report()))


def test_it_audits_again_every_interval_and_a_failed_audit_keeps_the_last_report(
    endpoint: tuple[Exporter, MetricsServer],
) -> None:
    exporter, server = endpoint

    def expired() -> Report:
        raise RuntimeError("the caller's credentials expired")

    outcomes: list[Callable[[], Report]] = [lambda: prod_report("run-1"), expired]
    waited: list[float] = []
    scrapes: list[str] = []
    said: list[str] = []

    def audit() -> Report:
        return outcomes[len(waited)]()

    def wait(interval: float) -> bool:
        waited.append(interval)
        scrapes.append(get(server)[1])
        return len(waited) == len(outcomes)  # stop after the last outcome

    audit_loop(audit, exporter, wait, 900.0, said.append)

    assert waited == [900.0, 900.0]
    first, second = (scraped(text) for text in scrapes)
    assert first[series("ipaudit_exporter_last_audit_success")] == 1
    assert first[series("ipaudit_exporter_failed_audits")] == 0
    assert second[series("ipaudit_exporter_last_audit_success")] == 0
    assert second[series("ipaudit_exporter_failed_audits")] == 1
    assert second[series("ipaudit_up")] == 1  # the last report is still served
    assert without(second, EXPORTER) == without(first, EXPORTER)
    assert said == [
        f"{SERVING}run-1",
        "serve-metrics: the audit failed, next try in 900s: RuntimeError",
    ]


def test_only_metrics_is_served_and_a_classic_scraper_gets_the_text_format(
    endpoint: tuple[Exporter, MetricsServer],
) -> None:
    _, server = endpoint

    with pytest.raises(urllib.error.HTTPError) as missing:
        get(server, "/")
    classic, text = get(server, accept="text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
    negotiated, _ = get(
        server, accept="application/openmetrics-text;version=1.0.0,text/plain;q=0.5"
    )

    assert missing.value.code == 404
    assert classic == "text/plain; version=0.0.4; charset=utf-8"
    assert negotiated == CONTENT_TYPE
    assert scraped(text) == {series("ipaudit_up"): 0, series("ipaudit_exporter_failed_audits"): 0}


def test_the_stored_run_is_served_with_its_age_until_the_first_audit_replaces_it(
    endpoint: tuple[Exporter, MetricsServer],
) -> None:
    exporter, server = endpoint
    exporter.restored(prod_report("stored"))

    stored = scraped(get(server)[1])
    exporter.published(prod_report("own"))
    exporter.restored(prod_report("stale-copy"))  # the table is read once, before any audit
    own = scraped(get(server)[1])

    assert stored[series("ipaudit_up")] == 1
    assert stored[series("ipaudit_exporter_report_source", source="table")] == 1
    assert stored[series("ipaudit_exporter_report_age_seconds")] > 0  # 2026-03-02 is past
    assert without(stored, EXPORTER) == scraped(render_openmetrics(prod_report("stored")))
    assert own[series("ipaudit_exporter_report_source", source="audit")] == 1
    assert series("ipaudit_exporter_report_source", source="table") not in own


def test_audits_that_read_nothing_keep_the_last_findings_stale_and_count_as_failed(
    endpoint: tuple[Exporter, MetricsServer],
) -> None:
    exporter, server = endpoint
    good = prod_report("good")  # prod's subnet-a: 40 of 1019 free, a CRITICAL finding
    dark = report(
        [],
        run_id="dark",
        coverage=[Coverage(good.clusters[0].account_id, "eu-west-1", None, "error", "EC2: down")],
    )

    exporter.published(good)
    results = [exporter.published(dark) for _ in range(3)]
    samples = scraped(get(server)[1])

    assert results == [False, False, False]
    assert samples[series("ipaudit_exporter_failed_audits")] == 3
    assert samples[series("ipaudit_exporter_last_audit_success")] == 0
    findings = {dict(labels)["resource"] for (name, labels) in samples if name == "ipaudit_finding"}
    assert findings == {"subnet-a"}  # still served: the outage did not resolve it
    stale = series(
        "ipaudit_scope_stale_since_timestamp_seconds",
        account="111111111111",
        region="eu-west-1",
        cluster="-",
    )
    assert samples[stale] == 1772442000.0  # the good run's time, 2026-03-02 09:00Z


# The demo: every kind of figure at once (a forecast from seeded history, a leak, a subnet two
# clusters share, subnets at 0 free). Its ids change per run, so one run's JSON is the reference.


@pytest.fixture(scope="module")
def demo_json() -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "IPAUDIT_"))}
    done = subprocess.run(
        [sys.executable, "-m", "ipaudit", "demo", "--output", "json", "--digest-html", os.devnull],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    demo: dict[str, Any] = json.loads(done.stdout)
    return demo


def test_the_demos_metrics_equal_its_json_report(demo_json: dict[str, Any]) -> None:
    text = render_openmetrics(report_from_dict(demo_json))

    samples = scraped(text)

    assert without(samples, DERIVED) == from_report(demo_json)
    assert {name for name, _ in samples} >= {
        "ipaudit_subnet_time_until_full_seconds",
        "ipaudit_leaked_eni_addresses",
        "ipaudit_recommendation_addresses_returned",
    }


@pytest.mark.skipif(
    shutil.which("promtool") is None,
    reason="promtool missing: `make setup` installs it where apt runs as root",
)
def test_promtool_accepts_the_demos_exposition_names_and_units(demo_json: dict[str, Any]) -> None:
    # What a scrape of serve-metrics gets: the exporter's own gauges and the report's.
    exporter = Exporter()
    exporter.published(report_from_dict(demo_json))

    done = subprocess.run(
        ["promtool", "check", "metrics"],
        input=exporter.text(),
        capture_output=True,
        text=True,
        timeout=BOUND,
        check=False,
    )

    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_a_subnet_with_fewer_free_than_the_start_up_need_has_a_critical_headroom_finding(
    demo_json: dict[str, Any],
) -> None:
    samples = scraped(render_openmetrics(report_from_dict(demo_json)))
    critical = {
        (f["account_id"], f["resource"])
        for f in demo_json["findings"]
        if f["kind"] == "subnet_headroom" and f["severity"] == "CRITICAL"
    }

    short = set()
    for (name, labels), need in samples.items():
        if name == "ipaudit_subnet_node_startup_addresses":
            where = dict(labels)
            del where["instance_type"]
            if samples[series("ipaudit_subnet_free_addresses", **where)] < need:
                short.add((where["account"], where["subnet"]))

    assert short and short <= critical


def test_demo_output_openmetrics_is_strict_openmetrics() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "IPAUDIT_"))}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ipaudit",
            "demo",
            "--output",
            "openmetrics",
            "--digest-html",
            os.devnull,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    families = {f.name: f for f in strict_openmetrics(done.stdout)}
    assert list(families) == [g.name for g in REPORT_GAUGES]
    assert re.search(r"^ipaudit_subnet_free_addresses\{.*\} 0$", done.stdout, re.MULTILINE)
