"""Each cluster's network mode, and which nodes aws-node manages, from what EKS and Kubernetes
said: never assumed."""

from __future__ import annotations

from dataclasses import replace

from ipaudit.analysis.network_mode import aws_node_instances, network_mode
from ipaudit.snapshot import Cluster, Instance, KubeNode, KubeView

LINUX = Instance("i-linux", "m5.large", "subnet-a", "vpc-1", "10.0.0.10", "running")
WINDOWS = replace(LINUX, instance_id="i-windows")
AUTO = replace(LINUX, instance_id="i-auto", tags={"eks:eks-cluster-name": "prod"})
KUBE = KubeView(
    nodes=(
        KubeNode("linux", "i-linux", 29, os="linux"),
        KubeNode("windows", "i-windows", 29, os="windows"),
    ),
    pods=(),
    cni_env={},
)
CLUSTER = Cluster(
    account_id="111111111111",
    region="eu-west-1",
    name="prod",
    arn="arn:aws:eks:eu-west-1:111111111111:cluster/prod",
    vpc_id="vpc-1",
    endpoint=None,
    config_subnet_ids=(),
    subnets=(),
    enis=(),
    instances=(LINUX, WINDOWS, AUTO),
    instance_types={},
    kube=KUBE,
)


def test_modes_come_from_eks_and_kubernetes() -> None:
    assert network_mode(CLUSTER) == "vpc-cni"
    assert network_mode(replace(CLUSTER, ip_family="ipv6")) == "vpc-cni-ipv6"
    assert network_mode(replace(CLUSTER, auto_mode=True)) == "auto-mode"
    assert network_mode(replace(CLUSTER, kube=replace(KUBE, aws_node=False))) == "other-cni"
    # Kubernetes unreachable: the vpc-cni add-on says aws-node runs; nothing says: unknown.
    assert network_mode(replace(CLUSTER, kube=None, vpc_cni_addon="v1.19.2")) == "vpc-cni"
    assert network_mode(replace(CLUSTER, kube=None)) == "unknown"


def test_aws_node_manages_linux_nodes_it_runs_on_not_windows_or_auto_mode_ones() -> None:
    assert aws_node_instances(CLUSTER) == {"i-linux"}
    assert aws_node_instances(replace(CLUSTER, kube=replace(KUBE, aws_node=False))) == set()
