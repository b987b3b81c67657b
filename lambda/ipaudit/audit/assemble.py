"""Joining what EKS, EC2 and Kubernetes said into one `Cluster` (pure)."""

from __future__ import annotations

from collections.abc import Mapping

from ipaudit.aws.ec2 import VpcInventory
from ipaudit.aws.eks import EksCluster
from ipaudit.snapshot import Cluster, Instance, InstanceTypeLimits, KubeView

# Tags EKS node groups, eksctl and Karpenter put on a cluster's instances.
NODE_CLUSTER_TAGS = ("eks:cluster-name", "aws:eks:cluster-name")


def belongs_by_tag(tags: Mapping[str, str], cluster_name: str) -> bool:
    return (
        any(tags.get(tag) == cluster_name for tag in NODE_CLUSTER_TAGS)
        or f"kubernetes.io/cluster/{cluster_name}" in tags
    )


def cluster_instances(
    eks: EksCluster, inventory: VpcInventory, kube: KubeView | None
) -> tuple[Instance, ...]:
    """The cluster's nodes: registered with Kubernetes, or tagged for the cluster.

    Tagged instances that never joined still hold addresses, so both count.
    """
    registered = {n.instance_id for n in kube.nodes if n.instance_id} if kube else set()
    return tuple(
        i
        for i in inventory.instances
        if i.instance_id in registered or belongs_by_tag(i.tags, eks.name)
    )


def cluster_subnet_ids(
    eks: EksCluster,
    inventory: VpcInventory,
    instances: tuple[Instance, ...],
    kube: KubeView | None,
) -> set[str]:
    """The cluster's VPC config, subnets tagged for it, where its nodes and ENIs live, and
    (custom networking) the ENIConfigs' pod subnets, even before a pod lands there."""
    node_ids = {i.instance_id for i in instances}
    ids = set(eks.subnet_ids) | {i.subnet_id for i in instances}
    ids |= {s.subnet_id for s in inventory.subnets if belongs_by_tag(s.tags, eks.name)}
    ids |= {e.subnet_id for e in inventory.enis if e.instance_id in node_ids}
    if kube is not None:
        ids |= {config.subnet_id for config in kube.eni_configs}
    return ids


def assemble_cluster(
    eks: EksCluster,
    *,
    account_id: str,
    region: str,
    inventory: VpcInventory,
    kube: KubeView | None,
    kube_error: str | None,
    limits: Mapping[str, InstanceTypeLimits],
) -> Cluster:
    instances = cluster_instances(eks, inventory, kube)
    subnet_ids = cluster_subnet_ids(eks, inventory, instances, kube)
    return Cluster(
        account_id=account_id,
        region=region,
        name=eks.name,
        arn=eks.arn,
        vpc_id=eks.vpc_id,
        endpoint=eks.endpoint,
        config_subnet_ids=eks.subnet_ids,
        subnets=tuple(s for s in inventory.subnets if s.subnet_id in subnet_ids),
        enis=tuple(e for e in inventory.enis if e.subnet_id in subnet_ids),
        instances=instances,
        instance_types={t: limits[t] for t in {i.instance_type for i in instances} if t in limits},
        kube=kube,
        kube_error=kube_error,
        nodegroups=eks.nodegroups,
        vpc_cni_addon=eks.vpc_cni_addon,
        vpc_cni_addon_configuration=eks.vpc_cni_addon_configuration,
    )
