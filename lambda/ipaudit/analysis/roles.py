"""What each of a cluster's subnets is for: where its nodes land, where aws-node takes pod
addresses, where its control plane sits, where its load balancers go."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from ipaudit.analysis.network_mode import custom_networking, has_aws_node
from ipaudit.report import SUBNET_ROLES
from ipaudit.snapshot import Cluster, Subnet

LOAD_BALANCER_TAGS = ("kubernetes.io/role/elb", "kubernetes.io/role/internal-elb")


def node_subnets(cluster: Cluster) -> set[str]:
    return set(cluster.node_subnet_ids) | {i.subnet_id for i in cluster.instances}


def pod_subnets(cluster: Cluster, owners: Mapping[str, str], pools: Collection[str]) -> set[str]:
    """aws-node takes pod addresses in its nodes' pool subnets (`pools`: their own, the
    ENIConfigs' under custom networking, or the ones subnet discovery finds), and wherever the
    cluster's CNI ENIs already are."""
    if not has_aws_node(cluster):
        return set()
    subnets = set(pools)
    if custom_networking(cluster) and cluster.kube is not None:
        subnets |= {config.subnet_id for config in cluster.kube.eni_configs}
    subnets |= {
        e.subnet_id
        for e in cluster.enis
        if owners.get(e.eni_id) == cluster.name and e.device_index not in (None, 0)
    }
    return subnets


def subnet_roles(
    cluster: Cluster, subnet: Subnet, nodes: Collection[str], pods: Collection[str]
) -> list[str]:
    roles = {
        "nodes": subnet.subnet_id in nodes,
        "pods": subnet.subnet_id in pods,
        "control-plane": subnet.subnet_id in cluster.config_subnet_ids,
        "load-balancers": any(tag in subnet.tags for tag in LOAD_BALANCER_TAGS),
    }
    return [role for role in SUBNET_ROLES if roles[role]]
