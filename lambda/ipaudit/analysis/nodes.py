"""Per node: the addresses its ENIs (and its pods' branch ENIs) hold versus the pods using them."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
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
    excluded: Collection[str] = (),
    pool: Sequence[str] | None = None,
    group: str | None = None,
) -> NodeReport:
    """One node from its ENIs. `pod_addresses` None: Kubernetes was unreachable; `excluded`:
    the subnets whose ENIs give no pod address (subnet discovery's exclusion); `pool`: where
    its pods take addresses (None: not known); `group`: its node group or NodePool."""
    # One pass over the node's ENIs (five each on ten thousand nodes, at scale), in card and
    # device order: the order the capacity model grows them in.
    secondary = 0
    warm: int | None = 0 if aws_node and pod_addresses is not None else None
    cards: dict[int, list[int]] = {}  # card -> [ENIs, addresses held], cards in order
    held = 0
    described = []
    for eni in sorted(enis.attached, key=_card_and_device):
        count = address_count(eni)
        held += count
        card = cards.setdefault(eni.network_card_index, [0, 0])
        card[0] += 1
        card[1] += count
        if cni_addresses(eni):
            secondary += count - 1 if eni.private_ips else count
            if warm is not None and pod_addresses is not None:
                warm += pod_addresses.split(eni)[1]
        described.append(
            NodeInterface(
                eni_id=eni.eni_id,
                subnet_id=eni.subnet_id,
                device_index=eni.device_index or 0,
                card=eni.network_card_index,
                interface_type=eni.interface_type,
                secondary_ips=len(eni.private_ips) - 1 if eni.private_ips else 0,
                prefixes=len(eni.prefixes),
                excluded=eni.subnet_id in excluded,
            )
        )
    return NodeReport(
        instance_id=instance.instance_id,
        instance_type=instance.instance_type,
        subnet_id=instance.subnet_id,
        enis=len(enis.attached),
        ips_held=held + sum(address_count(eni) for eni in enis.branches),
        secondary_ips=secondary,
        pods=pods,
        warm_ips=warm,
        node_name=kube_node.name if kube_node else None,
        max_pods=max_pods,
        os=kube_node.os if kube_node else None,
        branch_enis=len(enis.branches),
        aws_node=aws_node,
        network_cards=[NetworkCardHolding(card, *totals) for card, totals in cards.items()],
        interfaces=described,
        pool_subnet_id=pool[0] if pool else None,
        pool_subnet_ids=list(pool or ()),
        group=group,
    )


def _card_and_device(eni: Eni) -> tuple[int, int]:
    return eni.network_card_index, eni.device_index or 0


def node_reports(
    instances: Iterable[Instance],
    enis: Iterable[Eni],
    kube: KubeView | None,
    *,
    aws_node_instances: Collection[str] | None = None,
    known_types: Collection[str] | None = None,
    pod_addresses: PodAddresses | None = None,
    excluded: Collection[str] = (),
    pools: Mapping[str, Sequence[str]] | None = None,
    groups: Mapping[str, str] | None = None,
) -> list[NodeReport]:
    """`aws_node_instances`: the nodes whose addresses aws-node manages (all when None);
    `known_types`: the instance types DescribeInstanceTypes knows (all when None);
    `pod_addresses`: `PodAddresses.of(kube.pods)` when the caller has it already;
    `excluded`: the subnets whose ENIs give no pod address; `pools`: by launch subnet, where
    its nodes' pods take addresses; `groups`: by instance, its node group or NodePool."""
    instances = list(instances)
    grouped = node_enis(instances, enis)
    kube_nodes: Mapping[str, KubeNode] = {}
    counts: Counter[str] = Counter()
    if kube is None:
        pod_addresses = None
    else:
        kube_nodes = {n.instance_id: n for n in kube.nodes if n.instance_id is not None}
        if pod_addresses is None:
            pod_addresses = PodAddresses.of(kube.pods)
        counts = pod_addresses.per_node
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
                excluded=excluded,
                pool=None if pools is None else pools[instance.subnet_id],
                group=None if groups is None else groups.get(instance.instance_id),
            )
        )
    return reports
