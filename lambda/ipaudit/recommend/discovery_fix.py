"""The structural fix where aws-node discovers subnets (VPC CNI v1.18+), as the EKS user guide
now orders it: tag an existing subnet of the zone that has room (`kubernetes.io/role/cni=1`), else
create a subnet from a free block of the VPC, else from a new block of 100.64.0.0/10, tagged for
discovery. aws-node creates each node's next ENI in the zone's tagged subnet with the most free
addresses: no ENIConfig, no aws-node setting, no node replaced (pure)."""

from __future__ import annotations

import ipaddress
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ipaudit.cni.subnet_discovery import CLUSTER_TAG_PREFIX, DISCOVERY_TAG
from ipaudit.recommend.secondary_cidr import (
    HEADROOM,
    PodSubnet,
    plan_secondary_cidr,
    pod_subnet_prefix,
    usable_addresses,
)
from ipaudit.report import ClusterReport, VpcSubnet


@dataclass(frozen=True)
class DiscoveryPlan:
    command: str  # a shell script, one step a line
    summary: str  # what it does, for the rationale
    tagged: tuple[VpcSubnet, ...]  # existing subnets it tags
    added: int  # addresses the pods' pools gain (tagged subnets' free, new subnets' usable)


def discovery_commands(
    cluster: ClusterReport,
    addresses_by_zone: Mapping[str, int],
    *,
    first: Sequence[str] = (),
) -> DiscoveryPlan:
    """Room for `addresses_by_zone` (what the zone's pods draw) in every zone, twice over, by
    the lightest step that gives it; `first`: commands that must come before (an upgrade)."""
    region = shlex.quote(cluster.region)
    tags = _tags((cluster.cni or {}).get("CLUSTER_NAME", ""))
    tag_args = " ".join(shlex.quote(f"Key={key},Value={value}") for key, value in tags)
    pooled = {s.subnet_id for s in cluster.subnets if "pods" in s.roles}
    taken = [_network(s.cidr) for s in cluster.vpc_subnets if s.cidr]
    lines = list(first)
    tagged: list[VpcSubnet] = []
    created: list[PodSubnet] = []
    unplaced: dict[str, int] = {}
    for zone, needed in sorted(addresses_by_zone.items()):
        wanted = HEADROOM * max(needed, 0)
        if wanted <= 0:
            continue
        existing = _subnet_to_tag(cluster.vpc_subnets, zone, pooled, wanted)
        if existing is not None:
            tagged.append(existing)
            lines.append(
                f"aws ec2 create-tags --region {region} --resources {existing.subnet_id} "
                f"--tags {tag_args}"
            )
            continue
        block = _free_block(cluster.vpc_cidrs, taken, pod_subnet_prefix(wanted))
        if block is None:
            unplaced[zone] = needed
            continue
        taken.append(block)
        created.append(PodSubnet(zone, str(block), usable_addresses(block.prefixlen)))
    secondary = plan_secondary_cidr(cluster.vpc_cidrs, unplaced) if unplaced else None
    if secondary is not None:
        lines.append(
            f"aws ec2 associate-vpc-cidr-block --region {region} "
            f"--vpc-id {shlex.quote(cluster.vpc_id)} --cidr-block {secondary.block}"
        )
    in_block = list(secondary.subnets) if secondary is not None else []
    for subnet in [*created, *in_block]:
        lines += _create_tagged_subnet(cluster, subnet, tags)
    said = [_tagging(tagged), _creating(created, "from free space of the VPC's CIDR blocks")]
    if secondary is not None:
        said.append(
            _creating(
                in_block,
                f"from {secondary.block}, a block of 100.64.0.0/10 the VPC does not use yet",
            )
        )
    elif unplaced:
        said.append(
            f"find room for {', '.join(sorted(unplaced))} elsewhere: the VPC holds all of "
            f"100.64.0.0/10 already"
        )
    added = sum(s.free for s in tagged) + sum(s.usable for s in [*created, *in_block])
    summary = (
        "Under subnet discovery the lightest fix is more subnets for the pods: "
        + "; ".join(part for part in said if part)
        + ". aws-node creates each node's next ENI in its zone's tagged subnet with the most "
        "free addresses: no ENIConfig, no aws-node setting, no node replaced."
    )
    return DiscoveryPlan("\n".join(lines), summary, tuple(tagged), added)


def _tags(cluster_name: str) -> list[tuple[str, str]]:
    tags = [(DISCOVERY_TAG, "1")]
    if cluster_name:
        # aws-node checks cluster tags only with CLUSTER_NAME set: keep the subnet this cluster's.
        tags.append((f"{CLUSTER_TAG_PREFIX}{cluster_name}", "1"))
    return tags


def _subnet_to_tag(
    subnets: Sequence[VpcSubnet], zone: str, pooled: set[str], wanted: int
) -> VpcSubnet | None:
    """The zone's untagged private subnet with the most free addresses, if it has `wanted`.
    A subnet tagged `=0` was excluded by someone on purpose; a public one serves internet-facing
    load balancers."""
    fits = [
        s
        for s in subnets
        if s.az == zone
        and s.subnet_id not in pooled
        and s.cni_tag in (None, "")
        and not s.public
        and s.cidr
        and s.free >= wanted
    ]
    return max(fits, key=lambda s: (s.free, s.subnet_id), default=None)


def _network(cidr: str) -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network(cidr, strict=False)


def _free_block(
    vpc_cidrs: Sequence[str], taken: Sequence[ipaddress.IPv4Network], prefix: int
) -> ipaddress.IPv4Network | None:
    """The first /`prefix` of the VPC's own CIDR blocks that no subnet uses."""
    for cidr in vpc_cidrs:
        block = _network(cidr)
        if block.prefixlen > prefix:
            continue
        for piece in block.subnets(new_prefix=prefix):
            if not any(piece.overlaps(other) for other in taken):
                return piece
    return None


def _create_tagged_subnet(
    cluster: ClusterReport, subnet: PodSubnet, tags: list[tuple[str, str]]
) -> list[str]:
    region = shlex.quote(cluster.region)
    variable = "SUBNET_" + re.sub(r"[^A-Za-z0-9]", "_", subnet.az).upper()
    listed = ",".join(f"{{Key={key},Value={value}}}" for key, value in tags)
    spec = shlex.quote(f"ResourceType=subnet,Tags=[{listed}]")
    lines = [
        f"{variable}=$(aws ec2 create-subnet --region {region} "
        f"--vpc-id {shlex.quote(cluster.vpc_id)} --availability-zone {shlex.quote(subnet.az)} "
        f"--cidr-block {subnet.cidr} --tag-specifications {spec} "
        f"--query Subnet.SubnetId --output text)"
    ]
    nodes = sorted(s.subnet_id for s in cluster.subnets if s.az == subnet.az and "nodes" in s.roles)
    if nodes:
        lines.append(
            f"# route it like the nodes' subnet {nodes[0]} (none to do if that one uses the "
            f"VPC's main route table):\n"
            f"aws ec2 associate-route-table --region {region} --subnet-id ${variable} "
            f"--route-table-id $(aws ec2 describe-route-tables --region {region} "
            f"--filters Name=association.subnet-id,Values={nodes[0]} "
            f"--query 'RouteTables[0].RouteTableId' --output text)"
        )
    return lines


def _tagging(tagged: Sequence[VpcSubnet]) -> str:
    if not tagged:
        return ""
    listed = ", ".join(f"{s.subnet_id} ({s.az}, {s.cidr}, {s.free} free)" for s in tagged)
    return f"tag {listed} with {DISCOVERY_TAG}=1"


def _creating(created: Sequence[PodSubnet], source: str) -> str:
    if not created:
        return ""
    listed = ", ".join(f"{s.az} {s.cidr} ({s.usable} addresses)" for s in created)
    return f"create {listed} {source}, tagged {DISCOVERY_TAG}=1"
