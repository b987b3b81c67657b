"""Clusters built by hand in moto over HTTP for the shape tests: every address given, so the
counts the audit prints can be worked out on paper."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from ipaudit_sim.aws import MotoServer, point_environment_at
from ipaudit_sim.kube_api import KubeApiServer, node_object, pod_object
from ipaudit_sim.seed import SeededCluster

ACCOUNT = "123456789012"  # moto's own account


def kube(cluster: SeededCluster, eni_configs: list[dict[str, Any]] | None = None) -> KubeApiServer:
    server = KubeApiServer(cluster.name)
    server.nodes, server.pods = cluster.kube_nodes, cluster.kube_pods
    server.daemonsets = cluster.kube_daemonsets
    server.eni_configs = eni_configs or []
    return server


def interface(ec2: Any, subnet_id: str, addresses: list[str], description: str) -> str:
    eni_id: str = ec2.create_network_interface(
        SubnetId=subnet_id,
        Description=description,
        PrivateIpAddresses=[
            {"PrivateIpAddress": a, "Primary": i == 0} for i, a in enumerate(addresses)
        ],
    )["NetworkInterface"]["NetworkInterfaceId"]
    return eni_id


def add_node(
    ec2: Any,
    seeded: SeededCluster,
    *,
    subnet_id: str,
    primary: list[str],
    enis: list[tuple[str, list[str]]],
    pods: list[str],
    zone: str = "eu-west-1a",
) -> str:
    """An m5.large node (3 ENIs x 10 addresses, max pods 29) in `zone`: its primary ENI's
    addresses (its own first), more ENIs (subnet, addresses) attached after it, and running
    pods on the given addresses. Returns its node name."""
    instance_id = ec2.run_instances(
        ImageId="ami-12c6146b",
        MinCount=1,
        MaxCount=1,
        InstanceType="m5.large",
        SubnetId=subnet_id,
        PrivateIpAddress=primary[0],
        TagSpecifications=[
            {
                "ResourceType": "instance",
                "Tags": [{"Key": "eks:cluster-name", "Value": seeded.name}],
            }
        ],
    )["Instances"][0]["InstanceId"]
    seeded.instance_ids.append(instance_id)
    if len(primary) > 1:
        own = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
        ec2.assign_private_ip_addresses(
            NetworkInterfaceId=own["NetworkInterfaces"][0]["NetworkInterfaceId"],
            PrivateIpAddresses=primary[1:],
        )
    for device, (eni_subnet, addresses) in enumerate(enis, start=1):
        eni = interface(ec2, eni_subnet, addresses, f"aws-K8S-{instance_id}")
        ec2.attach_network_interface(
            NetworkInterfaceId=eni, InstanceId=instance_id, DeviceIndex=device
        )
    name = f"ip-{primary[0].replace('.', '-')}.internal"
    seeded.kube_nodes.append(node_object(name, instance_id, zone, 29, internal_ip=primary[0]))
    for pod, ip in enumerate(pods):
        seeded.kube_pods.append(pod_object("default", f"web-{pod}-{name}", name, ip))
    return name


def eks_cluster(eks: Any, name: str, subnet_ids: list[str]) -> None:
    eks.create_cluster(
        name=name,
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/eks-cluster",
        resourcesVpcConfig={"subnetIds": subnet_ids},
    )


@contextmanager
def moto_environment(moto_server: MotoServer, region: str) -> Iterator[dict[str, str]]:
    """For a module's fixture: a clean moto, and this process's environment pointed at it with
    every AWS_ and IPAUDIT_ variable of the caller's removed; yields that environment, for the
    subprocesses the module runs."""
    moto_server.reset()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "IPAUDIT_"))}
    point_environment_at(moto_server.url, region, env)
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith(("AWS_", "IPAUDIT_"))]:
            patch.delenv(name)
        for name, value in env.items():
            patch.setenv(name, value)
        yield env


def audit_json(
    env: dict[str, str], aws_endpoint: str, servers: dict[str, KubeApiServer]
) -> dict[str, Any]:
    """`ipaudit audit --json` in a subprocess against `aws_endpoint` and the clusters' local
    APIs (started here, stopped after); its report."""
    endpoints = ",".join(f"{name}={server.start()}" for name, server in servers.items())
    try:
        done = subprocess.run(
            [sys.executable, "-m", "ipaudit", "audit", "--json"],
            env={**env, "AWS_ENDPOINT_URL": aws_endpoint, "IPAUDIT_KUBE_ENDPOINTS": endpoints},
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
    finally:
        for server in servers.values():
            server.stop()
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report
