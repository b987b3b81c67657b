"""What an ENI is, from what EC2 says about it: its interface type, whether an AWS service
manages it (RequesterManaged, RequesterId), its description, and the tags the VPC CNI and the
VPC resource controller put on the ENIs they create. Never from guesswork about addresses."""

from __future__ import annotations

from collections.abc import Iterable

from ipaudit.snapshot import Eni

CNI_DESCRIPTION_PREFIX = "aws-K8S-"
CNI_NODE_TAG = "node.k8s.amazonaws.com/instance_id"
CNI_CLUSTER_TAG = "cluster.k8s.amazonaws.com/name"
CNI_CREATED_AT_TAG = "node.k8s.amazonaws.com/createdAt"
# The VPC resource controller (security groups for pods) tags trunk and branch ENIs with
# `eks:eni:owner`, `kubernetes.io/cluster/<name>` and (branches) their trunk's id; their
# descriptions are "aws-k8s-trunk-eni" and "aws-k8s-branch-eni".
CLUSTER_TAG_PREFIX = "kubernetes.io/cluster/"
VPC_RC_TRUNK_TAG = "vpcresources.k8s.aws/trunk-eni-id"
VPC_RC_OWNER_TAG = "eks:eni:owner"
VPC_RC_OWNER = "eks-vpc-resource-controller"
BRANCH_TYPES = frozenset({"trunk", "branch"})
# EKS names the control plane's cross-account ENIs "Amazon EKS <cluster>".
EKS_CONTROL_PLANE_PREFIX = "Amazon EKS "
LOAD_BALANCER_TYPES = frozenset({"network_load_balancer", "gateway_load_balancer"})


def is_cni_eni(eni: Eni) -> bool:
    return eni.description.startswith(CNI_DESCRIPTION_PREFIX) or CNI_NODE_TAG in eni.tags


def is_branch_eni(eni: Eni) -> bool:
    """A trunk or branch ENI of security groups for pods."""
    return (
        eni.interface_type in BRANCH_TYPES
        or eni.tags.get(VPC_RC_OWNER_TAG) == VPC_RC_OWNER
        or VPC_RC_TRUNK_TAG in eni.tags
        or eni.description in ("aws-k8s-trunk-eni", "aws-k8s-branch-eni")
    )


def eks_control_plane_of(eni: Eni) -> str | None:
    """The cluster whose control plane placed this ENI, or None."""
    if eni.description.startswith(EKS_CONTROL_PLANE_PREFIX):
        return eni.description.removeprefix(EKS_CONTROL_PLANE_PREFIX).strip() or None
    return None


def tagged_cluster(eni: Eni) -> str | None:
    """The cluster the CNI or the VPC resource controller tagged the ENI for."""
    if eni.tags.get(CNI_CLUSTER_TAG):
        return eni.tags[CNI_CLUSTER_TAG]
    for key in eni.tags:
        if key.startswith(CLUSTER_TAG_PREFIX) and (is_branch_eni(eni) or is_cni_eni(eni)):
            return key.removeprefix(CLUSTER_TAG_PREFIX) or None
    return None


def service_kind(eni: Eni) -> str:
    """For an ENI no audited cluster's nodes or pods own: which AWS service (if any) it serves."""
    kind, description = eni.interface_type, eni.description
    if eks_control_plane_of(eni) is not None:
        return "eks_control_plane"
    if kind in LOAD_BALANCER_TYPES or description.startswith("ELB "):
        return "load_balancers"
    if kind == "vpc_endpoint" or description.startswith("VPC Endpoint Interface"):
        return "vpc_endpoints"
    if kind == "nat_gateway" or description.startswith("Interface for NAT Gateway"):
        return "nat_gateways"
    if kind == "lambda" or description.startswith("AWS Lambda VPC ENI"):
        return "lambda"
    if eni.requester_managed or kind not in ("interface", "", "efa", "efa-only"):
        return "other_aws_services"
    return "other"


def address_count(eni: Eni, per_prefix: int = 16) -> int:
    """Every IPv4 address the ENI takes from its subnet: addresses and /28 prefixes."""
    return len(eni.private_ips) + per_prefix * len(eni.prefixes)


# EC2's InterfaceType values (DescribeNetworkInterfaces); any other is counted by guesswork.
KNOWN_INTERFACE_TYPES = frozenset(
    {
        "interface",
        "efa",
        "efa-only",
        "trunk",
        "branch",
        "natGateway",
        "nat_gateway",
        "load_balancer",
        "network_load_balancer",
        "gateway_load_balancer",
        "gateway_load_balancer_endpoint",
        "vpc_endpoint",
        "transit_gateway",
        "lambda",
        "quicksight",
        "global_accelerator_managed",
        "api_gateway_managed",
        "iot_rules_managed",
        "aws_codestar_connections_managed",
        "ec2_instance_connect_endpoint",
    }
)


def odd_eni_notes(enis: Iterable[Eni]) -> list[str]:
    """ENIs counted on a guess, each named: an InterfaceType EC2 did not have when this was
    written, or an ENI in use with no attachment (not a branch ENI, which has none)."""
    notes = []
    for eni in enis:
        if eni.interface_type not in KNOWN_INTERFACE_TYPES:
            notes.append(
                f"ENI {eni.eni_id} has an InterfaceType ipaudit does not know "
                f"({eni.interface_type!r}): {_counted_as(eni)}"
            )
        elif eni.status == "in-use" and not eni.attached and not is_branch_eni(eni):
            notes.append(f"ENI {eni.eni_id} is in use without an attachment: {_counted_as(eni)}")
    return notes


def _counted_as(eni: Eni) -> str:
    where = f"as node {eni.instance_id}'s" if eni.instance_id else f"in {service_kind(eni)}"
    return f"its {address_count(eni)} address(es) are counted {where}"
