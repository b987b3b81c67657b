"""An audit that could read nothing is not a clean run: when not one cluster could be read
(every Kubernetes API refused the token, every account x region failed) `ipaudit audit` exits 6,
and `--fail-on coverage` exits 6 on any coverage gap. An endpoint answering an HTML page
instead of AWS is one coverage line, never the page."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from support.loopback import Loopback, QuietHandler

from ipaudit_sim.kube_api import KubeApiServer
from ipaudit_sim.seed import NodeSpec, SeededCluster, SubnetSpec, seed_cluster

EXIT_COVERAGE = 6


def seeded(aws: boto3.Session, name: str, second_octet: int) -> SeededCluster:
    return seed_cluster(
        aws,
        name=name,
        vpc_cidr=f"10.{second_octet}.0.0/16",
        subnets=[SubnetSpec(f"10.{second_octet}.0.0/24", "eu-west-1a")],
        nodes=[NodeSpec(subnet=0, eni_addresses=(10,), pods=4, instance_type="m5.large")],
    )


@pytest.fixture
def clusters(aws: boto3.Session) -> Iterator[dict[str, KubeApiServer]]:
    servers = {}
    for name, octet in (("alpha", 10), ("beta", 20)):
        cluster = seeded(aws, name, octet)
        server = KubeApiServer(name)
        server.nodes, server.pods = cluster.kube_nodes, cluster.kube_pods
        server.daemonsets = cluster.kube_daemonsets
        server.start()
        servers[name] = server
    yield servers
    for server in servers.values():
        server.stop()


def audit(servers: dict[str, KubeApiServer], *args: str, **env_extra: str) -> tuple[int, Any, str]:
    env = {
        **os.environ,
        "IPAUDIT_REGIONS": "eu-west-1",
        "IPAUDIT_KUBE_ENDPOINTS": ",".join(f"{n}={s.url}" for n, s in servers.items()),
        **env_extra,
    }
    done = subprocess.run(
        [sys.executable, "-m", "ipaudit", "audit", "--json", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.returncode, json.loads(done.stdout), done.stderr


def test_every_cluster_refusing_the_token_exits_6_with_the_report_still_printed(
    clusters: dict[str, KubeApiServer],
) -> None:
    for server in clusters.values():
        server.fail_with = 401

    code, report, stderr = audit(clusters)

    assert code == EXIT_COVERAGE
    assert {(c["cluster"], c["status"]) for c in report["coverage"]} == {
        ("alpha", "error"),
        ("beta", "error"),
    }
    assert stderr.splitlines()[-1] == (
        "ipaudit: 2 of 2 scopes not fully audited: not one cluster could be read (exit 6)"
    )


def test_one_cluster_read_is_a_partial_audit_exit_0_unless_fail_on_coverage(
    clusters: dict[str, KubeApiServer],
) -> None:
    clusters["beta"].fail_with = 401

    code, report, _ = audit(clusters)
    strict, _, stderr = audit(clusters, "--fail-on", "coverage")
    both, _, _ = audit(clusters, "--fail-on", "CRITICAL", "--fail-on", "coverage")

    assert code == 0
    assert [c["status"] for c in report["coverage"]] == ["ok", "error"]
    assert strict == both == EXIT_COVERAGE
    assert "1 of 2 scopes not fully audited: --fail-on coverage (exit 6)" in stderr


@pytest.fixture
def html_endpoint() -> Iterator[str]:
    """What a proxy or a wrong endpoint answers: a web page, with no AWS error inside."""
    page = b"<html><head><title>403 Forbidden</title></head><body>Access denied</body></html>"

    class Handler(QuietHandler):
        def _answer(self) -> None:
            self.body()
            self.answer(403, "text/html", page)

        do_GET = do_POST = _answer

    server = Loopback(Handler)
    yield server.start()
    server.stop()


def test_an_endpoint_answering_html_is_one_coverage_line_not_the_page(
    clusters: dict[str, KubeApiServer], html_endpoint: str
) -> None:
    # Only EKS goes astray: the caller's identity (STS) still answers from moto.
    code, report, stderr = audit(clusters, AWS_ENDPOINT_URL_EKS=html_endpoint)

    [gap] = report["coverage"]
    assert (gap["region"], gap["cluster"], gap["status"]) == ("eu-west-1", None, "error")
    assert gap["error"] == (
        "ListClusters: the endpoint answered HTML, not AWS (HTTP 403): "
        "check AWS_ENDPOINT_URL and any proxy"
    )
    assert "<html" not in json.dumps(report) + stderr
    assert code == EXIT_COVERAGE  # the only account x region failed: nothing was read
