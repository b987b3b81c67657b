"""The real kubectl against the local Kubernetes API, over https with the cluster's CA, signed in
by a kubeconfig whose exec plugin is `ipaudit get-token`: what `ipaudit demo --serve` hands out."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest
import yaml

from ipaudit_sim.aws import FAKE_CREDENTIALS, MotoServer
from ipaudit_sim.kube_api import (
    KubeApiServer,
    aws_node_daemonset,
    node_object,
    pod_object,
    sandbox_failure_event,
)
from ipaudit_sim.kubeconfig import KubeconfigCluster, kubeconfig
from ipaudit_sim.tls import cluster_certificates

Kubectl = Callable[..., subprocess.CompletedProcess[str]]
KUBECTL = shutil.which("kubectl")
pytestmark = pytest.mark.skipif(
    KUBECTL is None, reason="kubectl is not installed on this machine (see toolchain.md)"
)


@pytest.fixture
def cluster(aws: boto3.Session, moto_server: MotoServer) -> Iterator[tuple[KubeApiServer, str]]:
    certificates = cluster_certificates("prod")
    server = KubeApiServer("prod", sts_endpoint=moto_server.url, tls=certificates.server_context)
    server.nodes = [
        node_object(
            f"ip-10-0-0-{n}.internal", f"i-{n:017x}", "eu-west-1a", 29, internal_ip=f"10.0.0.{n}"
        )
        for n in (4, 5)
    ]
    server.pods = [
        pod_object("default", f"web-{n}", "ip-10-0-0-4.internal", f"10.0.0.{20 + n}")
        for n in range(5)
    ] + [pod_object("kube-system", "coredns-1", "ip-10-0-0-5.internal", "10.0.0.30")]
    server.daemonsets = [aws_node_daemonset({"WARM_IP_TARGET": "4"}, nodes=2)]
    server.events = [
        sandbox_failure_event(
            "default", "web-9", "ip-10-0-0-4.internal", "2026-01-05T09:00:00Z", count=4
        )
    ]
    server.start()
    yield server, certificates.ca_data
    server.stop()


@pytest.fixture
def kubectl(
    cluster: tuple[KubeApiServer, str], moto_server: MotoServer, tmp_path: Path
) -> Iterator[Kubectl]:
    server, ca_data = cluster
    config = kubeconfig(
        [KubeconfigCluster("prod", server.url, ca_data, None)],
        [sys.executable, "-m", "ipaudit"],
        {"AWS_ENDPOINT_URL": moto_server.url, **FAKE_CREDENTIALS},
        "eu-west-1",
    )
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps(config))
    # Only the kubeconfig says where and who: nothing of the test's AWS environment leaks in.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "KUBE"))}
    env["KUBECONFIG"] = str(path)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        assert KUBECTL is not None
        return subprocess.run(
            [KUBECTL, "--cache-dir", str(tmp_path / "cache"), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    yield run


def lines(done: subprocess.CompletedProcess[str]) -> list[list[str]]:
    assert done.returncode == 0, done.stderr
    return [line.split() for line in done.stdout.splitlines()]


def test_get_nodes_wide_prints_the_servers_table(
    kubectl: Kubectl, cluster: tuple[KubeApiServer, str]
) -> None:
    header, *rows = lines(kubectl("get", "nodes", "-o", "wide"))

    assert header[:7] == ["NAME", "STATUS", "ROLES", "AGE", "VERSION", "INTERNAL-IP", "EXTERNAL-IP"]
    assert [(r[0], r[1], r[5]) for r in rows] == [
        ("ip-10-0-0-4.internal", "Ready", "10.0.0.4"),
        ("ip-10-0-0-5.internal", "Ready", "10.0.0.5"),
    ]
    server = cluster[0]
    assert "/api" in [r.split("?")[0] for r in server.requests]  # discovery came first
    assert server.auth_errors == []


def test_get_pods_in_every_namespace_in_chunks_of_three(
    kubectl: Kubectl, cluster: tuple[KubeApiServer, str]
) -> None:
    header, *rows = lines(kubectl("get", "pods", "-A", "--chunk-size=3", "-o", "wide"))

    assert header[:6] == ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert [(r[0], r[1], r[2], r[3], r[6]) for r in rows] == [
        ("default", f"web-{n}", "1/1", "Running", f"10.0.0.{20 + n}") for n in range(5)
    ] + [("kube-system", "coredns-1", "1/1", "Running", "10.0.0.30")]
    pages = [r for r in cluster[0].requests if r.startswith("/api/v1/pods?")]
    assert len(pages) == 2 and "limit=3" in pages[0] and "continue=" in pages[1]


def test_get_the_aws_node_daemonset_as_yaml(kubectl: Kubectl) -> None:
    done = kubectl("get", "ds", "aws-node", "-n", "kube-system", "-o", "yaml")

    assert done.returncode == 0, done.stderr
    daemonset = yaml.safe_load(done.stdout)
    [container] = daemonset["spec"]["template"]["spec"]["containers"]
    assert {"name": "WARM_IP_TARGET", "value": "4"} in container["env"]
    assert daemonset["status"]["desiredNumberScheduled"] == 2


def test_label_selectors_and_missing_objects_read_as_on_a_real_cluster(kubectl: Kubectl) -> None:
    selected = lines(kubectl("get", "pods", "-n", "kube-system", "-l", "app=coredns"))
    missing = kubectl("get", "pod", "nope", "-n", "default")

    assert [row[0] for row in selected[1:]] == ["coredns-1"]
    assert missing.returncode == 1
    assert missing.stderr.strip() == 'Error from server (NotFound): pods "nope" not found'


def test_get_events_shows_the_pods_that_could_not_get_an_address(kubectl: Kubectl) -> None:
    done = kubectl("get", "events", "-n", "default")

    header, row = done.stdout.splitlines()
    assert header.split()[:6] == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert row.split()[1:4] == ["Warning", "FailedCreatePodSandBox", "pod/web-9"]
    assert "failed to assign an IP address to container" in row
