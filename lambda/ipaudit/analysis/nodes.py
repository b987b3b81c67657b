"""Per node: the addresses its ENIs (and its pods' branch ENIs) hold versus the pods using them."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from ipaudit.analysis.eni_kinds import (
    BRANCH_TYPES,
    VPC_RC_TRUNK_TAG,
    address_count,
    is_branch_eni,
)
from ipaudit.analysis.pod_addresses import (
    ADDRESSES_PER_PREFIX,
    PodAddresses,
    holds_vpc_address,
)
from ipaudit.report import NetworkCardHolding, NodeInterface, NodeReport
from ipaudit.snapshot import Eni, Instance, KubeNode, KubeView

__all__ = ["ADDRESSES_PER_PREFIX", "NodeEnis", "holds_vpc_address", "node_enis", "node_reports"]


@dataclass(frozen=True)
class NodeEnis:
    """A node's ENIs: attached to the instance (its trunk included), and the branch ENIs
    the VPC resource controller hangs off its trunk."""

    attached: tuple[Eni, ...]
    branches: tuple[Eni, ...]


def node_enis(instances: Iterable[Instance], enis: Iterable[Eni]) -> dict[str, NodeEnis]:
    """Grouped once: a 1000-node cluster must not scan every ENI for every node."""
    enis = list(enis)
    attached: defaultdict[str, list[Eni]] = defaultdict(list)
    trunk_node: dict[str, str] = {}
    for eni in enis:
        if eni.instance_id is not None:
            attached[eni.instance_id].append(eni)
            if eni.interface_type == "trunk":
                trunk_node[eni.eni_id] = eni.instance_id
    branches: defaultdict[str, list[Eni]] = defaultdict(list)
    for eni in enis:
        # A detached (`available`) branch ENI serves no pod: it is a leak, not the node's.
        if eni.instance_id is None and is_branch_eni(eni) and eni.status != "available":
            node = trunk_node.get(eni.tags.get(VPC_RC_TRUNK_TAG, ""))
            if node is not None:
                branches[node].append(eni)
    return {
        i.instance_id: NodeEnis(tuple(attached[i.instance_id]), tuple(branches[i.instance_id]))
        for i in instances
    }


def pods_per_node(kube: KubeView) -> Counter[str]:
    return Counter(p.node_name for p in kube.pods if p.node_name and holds_vpc_address(p))


def cni_addresses(eni: Eni) -> bool:
    """Whether the ENI's secondary addresses and prefixes are aws-node's (not a trunk's)."""
    return eni.interface_type not in BRANCH_TYPES


def node_report(
    instance: Instance,
    enis: NodeEnis,
    *,
    kube_node: KubeNode | None,
    pods: int | None,
    pod_addresses: PodAddresses | None,
    aws_node: bool,
    max_pods: int | None,
) -> NodeReport:
    """One node from its ENIs. `pod_addresses` None: Kubernetes was unreachable."""
    held = [*enis.attached, *enis.branches]
    secondary = sum(
        max(0, len(eni.private_ips) - 1) + ADDRESSES_PER_PREFIX * len(eni.prefixes)
        for eni in enis.attached
        if cni_addresses(eni)
    )
    warm: int | None = None
    if aws_node and pod_addresses is not None:
        warm = sum(pod_addresses.split(eni)[1] for eni in enis.attached if cni_addresses(eni))
    return NodeReport(
        instance_id=instance.instance_id,
        instance_type=instance.instance_type,
        subnet_id=instance.subnet_id,
        enis=len(enis.attached),
        ips_held=sum(address_count(eni) for eni in held),
        secondary_ips=secondary,
        pods=pods,
        warm_ips=warm,
        node_name=kube_node.name if kube_node else None,
        max_pods=max_pods,
        os=kube_node.os if kube_node else None,
        branch_enis=len(enis.branches),
        aws_node=aws_node,
        network_cards=card_holdings(enis.attached),
        interfaces=interfaces(enis.attached),
    )


def interfaces(attached: Iterable[Eni]) -> list[NodeInterface]:
    """The node's ENIs as the capacity model grows them, in card and device order."""
    return [
        NodeInterface(
            eni_id=eni.eni_id,
            subnet_id=eni.subnet_id,
            device_index=eni.device_index or 0,
            card=eni.network_card_index,
            interface_type=eni.interface_type,
            secondary_ips=max(0, len(eni.private_ips) - 1),
            prefixes=len(eni.prefixes),
        )
        for eni in sorted(attached, key=lambda e: (e.network_card_index, e.device_index or 0))
    ]


def card_holdings(attached: Iterable[Eni]) -> list[NetworkCardHolding]:
    """What the node's ENIs hold on each network card (card 0 only, on most types)."""
    enis: Counter[int] = Counter()
    held: Counter[int] = Counter()
    for eni in attached:
        enis[eni.network_card_index] += 1
        held[eni.network_card_index] += address_count(eni)
    return [NetworkCardHolding(card, enis[card], held[card]) for card in sorted(enis)]


def node_reports(
    instances: Iterable[Instance],
    enis: Iterable[Eni],
    kube: KubeView | None,
    *,
    aws_node_instances: Collection[str] | None = None,
    known_types: Collection[str] | None = None,
    pod_addresses: PodAddresses | None = None,
) -> list[NodeReport]:
    """`aws_node_instances`: the nodes whose addresses aws-node manages (all when None);
    `known_types`: the instance types DescribeInstanceTypes knows (all when None);
    `pod_addresses`: `PodAddresses.of(kube.pods)` when the caller has it already."""
    instances = list(instances)
    grouped = node_enis(instances, enis)
    kube_nodes: Mapping[str, KubeNode] = {}
    counts: Counter[str] = Counter()
    if kube is None:
        pod_addresses = None
    else:
        kube_nodes = {n.instance_id: n for n in kube.nodes if n.instance_id is not None}
        counts = pods_per_node(kube)
        if pod_addresses is None:
            pod_addresses = PodAddresses.of(kube.pods)
    reports = []
    for instance in instances:
        kube_node = kube_nodes.get(instance.instance_id)
        # A node not (or no longer) registered runs no pods but may still hold addresses.
        pods = None if kube is None else (counts[kube_node.name] if kube_node else 0)
        known = known_types is None or instance.instance_type in known_types
        reports.append(
            node_report(
                instance,
                grouped[instance.instance_id],
                kube_node=kube_node,
                pods=pods,
                pod_addresses=pod_addresses,
                aws_node=aws_node_instances is None or instance.instance_id in aws_node_instances,
                max_pods=kube_node.max_pods if kube_node and known else None,
            )
        )
    return reports
