"""Every used address of a subnet, attributed to an owner, as one cluster sees the subnet.

The counts sum exactly to `usable - free`: what no visible ENI explains is `unseen` (another
account's ENIs in a shared VPC, say), never a negative number.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ipaudit.analysis.eni_kinds import (
    address_count,
    eks_control_plane_of,
    is_branch_eni,
    is_cni_eni,
    service_kind,
)
from ipaudit.analysis.pod_addresses import PodAddresses
from ipaudit.analysis.subnets import ec2_free, usable_addresses
from ipaudit.report import no_addresses
from ipaudit.snapshot import Eni, Subnet


@dataclass(frozen=True)
class ClusterLens:
    """What one cluster knows that decides whose an address is."""

    cluster: str
    instances: frozenset[str]  # the cluster's nodes
    aws_node: frozenset[str]  # the nodes whose pod addresses aws-node hands out
    pods: PodAddresses | None  # running pods' addresses; None: Kubernetes unreachable
    owners: Mapping[str, str] = field(default_factory=dict)  # ENI id -> owning cluster
    leaked: frozenset[str] = frozenset()  # leaked ENI ids (whoever reports them)
    fargate_ips: frozenset[str] = frozenset()  # Fargate pods' addresses


def attribute(subnet: Subnet, enis: Iterable[Eni], lens: ClusterLens) -> tuple[dict[str, int], int]:
    """(the attribution, the free count it settles on) for one IPv4 subnet.

    EC2 counts free addresses and lists ENIs in separate reads; when the listed ENIs hold more
    than EC2's count leaves used (a change between the reads, or a /28 prefix EC2 has not
    counted yet), the ENIs are the more specific evidence and `free` is lowered to match.
    """
    counts = no_addresses()
    for eni in enis:
        if eni.subnet_id == subnet.subnet_id:
            _add(counts, eni, lens)
    usable = usable_addresses(subnet.cidr)
    visible = sum(counts.values())
    free = ec2_free(subnet)
    if visible > usable - free:
        free = max(0, usable - visible)
    counts["unseen"] = max(0, usable - free - visible)
    return counts, free


def _add(counts: dict[str, int], eni: Eni, lens: ClusterLens) -> None:
    held = address_count(eni)
    owner = lens.owners.get(eni.eni_id)
    if eks_control_plane_of(eni) is not None:
        counts["eks_control_plane"] += held
    elif eni.eni_id in lens.leaked:
        counts["leaked"] += held
    elif owner is not None and owner != lens.cluster:
        counts["other_clusters"] += held
    elif is_branch_eni(eni):
        counts["branch"] += held
    elif eni.instance_id is not None and eni.instance_id in lens.instances:
        _add_node_eni(counts, eni, held, lens)
    elif lens.fargate_ips.intersection(eni.private_ips):
        counts["fargate"] += held
    elif owner == lens.cluster and is_cni_eni(eni):
        # aws-node's, on no node of ours yet: an ENI being attached (or a node not found).
        counts["warm" if lens.pods is not None else "aws_node_unknown"] += held
    else:
        counts[service_kind(eni)] += held


def _add_node_eni(counts: dict[str, int], eni: Eni, held: int, lens: ClusterLens) -> None:
    primary = 1 if eni.private_ips else 0
    counts["node_primary"] += primary
    rest = held - primary
    if lens.pods is None:
        counts["aws_node_unknown" if eni.instance_id in lens.aws_node else "other"] += rest
        return
    used, _ = lens.pods.split(eni)
    counts["pods"] += used
    # Addresses no running pod uses are aws-node's warm pool; on a node another CNI (or Auto
    # Mode) runs, they are left unmodelled.
    counts["warm" if eni.instance_id in lens.aws_node else "other"] += rest - used
