"""Each cluster's networking, read from what EKS and Kubernetes say, never assumed."""

from __future__ import annotations

from ipaudit.cni.subnet_discovery import Version, discovers_subnets, running_version
from ipaudit.report import NetworkMode
from ipaudit.snapshot import Cluster

# EKS Auto Mode tags the instances it launches with this (and runs their networking itself).
AUTO_MODE_INSTANCE_TAG = "eks:eks-cluster-name"
_TRUE = {"1", "t", "T", "TRUE", "true", "True"}  # Go's strconv.ParseBool, as ipamd reads it


def has_aws_node(cluster: Cluster) -> bool:
    """aws-node runs in the cluster: Kubernetes shows its DaemonSet, or (Kubernetes unreachable)
    the vpc-cni add-on is installed."""
    if cluster.kube is not None:
        return cluster.kube.aws_node
    return cluster.vpc_cni_addon is not None


def network_mode(cluster: Cluster) -> NetworkMode:
    if cluster.auto_mode:
        return "auto-mode"
    if cluster.kube is not None and not cluster.kube.aws_node:
        return "other-cni"
    if not has_aws_node(cluster):
        return "unknown"
    env = cluster.kube.cni_env if cluster.kube is not None else {}
    ipv6 = cluster.ip_family == "ipv6" or env.get("ENABLE_IPv6", "") in _TRUE
    return "vpc-cni-ipv6" if ipv6 else "vpc-cni"


def custom_networking(cluster: Cluster) -> bool:
    env = cluster.kube.cni_env if cluster.kube is not None else {}
    return env.get("AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG", "") in _TRUE


def aws_node_instances(cluster: Cluster) -> frozenset[str]:
    """The nodes whose pod addresses aws-node hands out: it runs in the cluster, the node is
    not one EKS Auto Mode launched, and the node is not Windows (aws-node is Linux only)."""
    os_of = {n.instance_id: n.os for n in cluster.kube.nodes} if cluster.kube else {}
    # Kubernetes unreachable and no add-on: EKS's default networking (aws-node) is the likely
    # one; its addresses are reported as aws_node_unknown, never modelled.
    likely = has_aws_node(cluster) or (cluster.kube is None and not cluster.auto_mode)
    return frozenset(
        i.instance_id
        for i in cluster.instances
        if likely and AUTO_MODE_INSTANCE_TAG not in i.tags and os_of.get(i.instance_id) != "windows"
    )


def cni_version(cluster: Cluster) -> Version | None:
    """The aws-node version running: the DaemonSet's image tag, else the managed add-on's."""
    image = cluster.kube.aws_node_image if cluster.kube is not None else None
    return running_version(image, cluster.vpc_cni_addon)


def subnet_discovery(cluster: Cluster) -> bool:
    """aws-node creates new ENIs where enhanced subnet discovery says (v1.18+, on by default,
    custom networking off)."""
    env = cluster.kube.cni_env if cluster.kube is not None else {}
    return has_aws_node(cluster) and discovers_subnets(env, cni_version(cluster))
