"""Joining what EKS, EC2 and Kubernetes said into one `Cluster` (pure)."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from ipaudit.analysis.ceilings import selected_subnets
from ipaudit.analysis.eni_kinds import tagged_cluster
from ipaudit.aws.autoscaling import GroupSize
from ipaudit.aws.ec2 import VpcInventory
from ipaudit.aws.eks import EksCluster
from ipaudit.cni.subnet_discovery import candidate_subnets, discovers_subnets, running_version
from ipaudit.snapshot import Cluster, Instance, InstanceTypeLimits, KubeView, NodeGroup

# Tags EKS node groups, eksctl, Karpenter and EKS Auto Mode put on a cluster's instances.
NODE_CLUSTER_TAGS = ("eks:cluster-name", "aws:eks:cluster-name", "eks:eks-cluster-name")
# Karpenter's EC2NodeClass selects the subnets carrying this tag (the getting-started value).
KARPENTER_DISCOVERY_TAG = "karpenter.sh/discovery"


def belongs_by_tag(tags: Mapping[str, str], cluster_name: str) -> bool:
    return (
        any(tags.get(tag) == cluster_name for tag in NODE_CLUSTER_TAGS)
        or f"kubernetes.io/cluster/{cluster_name}" in tags
    )


def cluster_instances(
    eks: EksCluster,
    inventory: VpcInventory,
    kube: KubeView | None,
    group_members: Collection[str] = (),
) -> tuple[Instance, ...]:
    """The cluster's nodes: registered with Kubernetes, tagged for the cluster, or members of
    its node groups' Auto Scaling groups (`group_members`, instance ids).

    Instances that never joined still hold addresses, so every source counts.
    """
    registered = {n.instance_id for n in kube.nodes if n.instance_id} if kube else set()
    return tuple(
        i
        for i in inventory.instances
        if i.instance_id in registered
        or i.instance_id in group_members
        or belongs_by_tag(i.tags, eks.name)
    )


def node_subnet_ids(
    eks: EksCluster, inventory: VpcInventory, kube: KubeView | None = None
) -> set[str]:
    """Where the cluster's new nodes can land: its node groups' subnets and the subnets
    Karpenter discovers for it (the getting-started tag, or its EC2NodeClasses' selectors)."""
    karpenter = {
        s.subnet_id for s in inventory.subnets if s.tags.get(KARPENTER_DISCOVERY_TAG) == eks.name
    }
    vpc = [s for s in inventory.subnets if s.vpc_id == eks.vpc_id]
    for pool in kube.node_pools if kube is not None else ():
        karpenter |= {s.subnet_id for s in selected_subnets(pool.subnet_selector, vpc)}
    return set(eks.nodegroup_subnet_ids) | karpenter


def cluster_subnet_ids(
    eks: EksCluster,
    inventory: VpcInventory,
    instances: tuple[Instance, ...],
    kube: KubeView | None,
) -> set[str]:
    """The cluster's VPC config, subnets tagged for it, where its nodes and ENIs live (ENIs
    tagged for it included), its node groups' and Karpenter's subnets, and the pod subnets
    aws-node may draw on even before a pod lands there: the ENIConfigs' (custom networking) or
    the subnets discovery finds in its nodes' zones."""
    node_ids = {i.instance_id for i in instances}
    launch = {i.subnet_id for i in instances} | node_subnet_ids(eks, inventory, kube)
    ids = set(eks.subnet_ids) | launch
    ids |= discovered_subnet_ids(eks, inventory, kube, launch)
    ids |= {s.subnet_id for s in inventory.subnets if belongs_by_tag(s.tags, eks.name)}
    ids |= {e.subnet_id for e in inventory.enis if e.instance_id in node_ids}
    # The CNI's and the VPC resource controller's ENIs say which cluster they serve.
    ids |= {e.subnet_id for e in inventory.enis if tagged_cluster(e) == eks.name}
    if kube is not None:
        ids |= {config.subnet_id for config in kube.eni_configs}
    return ids


def discovered_subnet_ids(
    eks: EksCluster, inventory: VpcInventory, kube: KubeView | None, launch: set[str]
) -> set[str]:
    """The subnets enhanced subnet discovery may create the nodes' ENIs in, zone by zone."""
    if kube is not None and not kube.aws_node:
        return set()
    env = kube.cni_env if kube is not None else {}
    image = kube.aws_node_image if kube is not None else None
    version = running_version(image, eks.vpc_cni_addon)
    if not discovers_subnets(env, version):
        return set()
    by_id = {s.subnet_id: s for s in inventory.subnets}
    found: set[str] = set()
    for subnet_id in launch & by_id.keys():
        found |= {
            s.subnet_id
            for s in candidate_subnets(
                by_id[subnet_id],
                inventory.subnets,
                version=version,
                cluster_name=env.get("CLUSTER_NAME", ""),
            )
        }
    return found


def group_instance_types(eks: EksCluster, kube: KubeView | None) -> set[str]:
    """The instance types the node groups and Karpenter NodePools name for new nodes."""
    named = {t for group in eks.nodegroup_details for t in group.instance_types}
    if kube is not None:
        named |= {t for pool in kube.node_pools for t in pool.named_types}
    return named


def node_groups(eks: EksCluster, groups: Mapping[str, GroupSize]) -> tuple[NodeGroup, ...]:
    """Each managed node group with its Auto Scaling groups' sizes (summed: EKS makes one)."""
    found = []
    for detail in eks.nodegroup_details:
        sizes = [groups[name] for name in detail.asgs if name in groups]
        found.append(
            NodeGroup(
                name=detail.name,
                instance_types=detail.instance_types,
                subnet_ids=detail.subnet_ids,
                max_size=sum(g.max_size for g in sizes) if sizes else detail.max_size,
                instance_ids=tuple(i for g in sizes for i in g.instance_ids),
                desired_size=sum(g.desired_capacity for g in sizes) if sizes else None,
                asg_found=bool(sizes),
            )
        )
    return tuple(found)


def assemble_cluster(
    eks: EksCluster,
    *,
    account_id: str,
    region: str,
    inventory: VpcInventory,
    kube: KubeView | None,
    kube_error: str | None,
    limits: Mapping[str, InstanceTypeLimits],
    group_members: Collection[str] = (),
    groups: Mapping[str, GroupSize] | None = None,
) -> Cluster:
    instances = cluster_instances(eks, inventory, kube, group_members)
    subnet_ids = cluster_subnet_ids(eks, inventory, instances, kube)
    types = {i.instance_type for i in instances}
    new_types = group_instance_types(eks, kube)
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
        instance_types={t: limits[t] for t in types | new_types if t in limits},
        kube=kube,
        kube_error=kube_error,
        nodegroups=eks.nodegroups,
        vpc_cni_addon=eks.vpc_cni_addon,
        vpc_cni_addon_configuration=eks.vpc_cni_addon_configuration,
        ip_family=eks.ip_family,
        auto_mode=eks.auto_mode,
        health_issues=eks.health_issues,
        node_subnet_ids=tuple(sorted(node_subnet_ids(eks, inventory, kube))),
        unknown_instance_types=tuple(sorted(t for t in types if t not in limits)),
        vpc_cidrs=inventory.cidrs,
        vpc_subnets=tuple(s for s in inventory.subnets if s.vpc_id == eks.vpc_id),
        node_groups=node_groups(eks, groups or {}),
    )
