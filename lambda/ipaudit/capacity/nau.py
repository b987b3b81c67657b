"""A VPC's Network Address Usage (NAU): the units its resources count against the VPC's quota
(64,000 by default) and, with its same-region peers, against the peered quota (128,000).

The weights are AWS's table, "How NAU is calculated" (Amazon VPC user guide, "Network Address
Usage for your VPC", https://docs.aws.amazon.com/vpc/latest/userguide/network-address-usage.html):

| resource                                                         | units |
|------------------------------------------------------------------|-------|
| each IPv4 or IPv6 address on a network interface                 | 1     |
| each network interface attached to an instance beyond its first  | 1     |
| each prefix on a network interface                               | 1     |
| Network Load Balancer, Gateway Load Balancer: per zone           | 6     |
| VPC endpoint: per zone                                           | 6     |
| transit gateway attachment, Lambda function, NAT gateway,        |       |
| EFS mount target                                                 | 6     |

Counted from the ENIs the audit already reads: a load balancer or endpoint has one ENI per
zone, a NAT gateway and an EFS mount target one ENI, so six per such ENI; a transit gateway
attachment has one ENI per zone, so six per attachment named in the ENIs' descriptions. A Lambda
ENI is shared by every function of one subnet and security-group set (Hyperplane): six per ENI
is a floor, which the report's notes say. Everything else (ALB and CLB ENIs, EKS control-plane
ENIs, RDS, ...) counts as its addresses and prefixes, as the table's first rows do.

Prefix delegation is why this matters to aws-node: a /28 is one unit where sixteen secondary
addresses are sixteen. `pod_units` is the one place that prices a node's pool in units; the
recommender and what-if ask it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from ipaudit.cni.cni_settings import CniSettings
from ipaudit.cni.simulator import StepResult
from ipaudit.report import NAU_OWNERS, ClusterReport, NauPeer, NetworkAddressUsage
from ipaudit.snapshot import Eni, VpcNetwork
from ipaudit.words import noun, plural

SERVICE_UNITS = 6  # AWS's weight for a load balancer's or endpoint's zone, a NAT gateway, ...
IPS_PER_PREFIX = 16

_NLB_TYPES = frozenset({"network_load_balancer", "gateway_load_balancer"})
_TGW_DESCRIPTION = "Network Interface for Transit Gateway Attachment"


def _service(eni: Eni) -> str | None:
    """The AWS table's per-resource row this ENI stands for, or None: counted by address."""
    kind, description = eni.interface_type, eni.description
    if kind in _NLB_TYPES or description.startswith(("ELB net/", "ELB gwy/")):
        return "load_balancers"
    if kind in ("vpc_endpoint", "gateway_load_balancer_endpoint") or description.startswith(
        "VPC Endpoint Interface"
    ):
        return "vpc_endpoints"
    if kind == "nat_gateway" or description.startswith("Interface for NAT Gateway"):
        return "nat_gateways"
    if kind == "lambda" or description.startswith("AWS Lambda VPC ENI"):
        return "lambda"
    if description.startswith("EFS mount target"):
        return "efs"
    if kind == "transit_gateway" or description.startswith(_TGW_DESCRIPTION):
        return "transit_gateways"
    return None


def vpc_units(enis: Iterable[Eni]) -> dict[str, int]:
    """The VPC's units by owner (NAU_OWNERS), from every ENI in it."""
    units = dict.fromkeys(NAU_OWNERS, 0)
    attachments: set[str] = set()
    for eni in enis:
        service = _service(eni)
        if service == "transit_gateways":
            # One attachment, one ENI per zone: six for the attachment, not per ENI.
            attachment = eni.description.removeprefix(_TGW_DESCRIPTION).strip() or eni.eni_id
            if attachment not in attachments:
                attachments.add(attachment)
                units[service] += SERVICE_UNITS
            continue
        if service is not None:
            units[service] += SERVICE_UNITS
            continue
        units["addresses"] += len(eni.private_ips) + eni.ipv6_addresses
        units["prefixes"] += len(eni.prefixes) + eni.ipv6_prefixes
        if eni.instance_id is not None and (eni.device_index or 0) > 0:
            units["additional_enis"] += 1
    return units


def pod_units(prefix_delegation: bool, secondary_ips: int) -> int:
    """The units a node's pod pool takes: one per secondary address, or one per /28 prefix
    (whose 16 addresses `secondary_ips` counts) under prefix delegation."""
    if prefix_delegation:
        return -(-secondary_ips // IPS_PER_PREFIX)
    return secondary_ips


def step_units(step: StepResult, prefix_mode: bool) -> int:
    """The units a simulated node's card-0 pool takes: its ENIs' primary addresses, one per ENI
    beyond the first, and its pool (`pod_units`)."""
    pool = step.prefixes if prefix_mode else step.secondary_ips
    return step.enis + max(step.enis - 1, 0) + pool


def held_units(prefix_delegation: bool, ips_held: int, enis: int) -> int:
    """The units of `ips_held` addresses on `enis` ENIs (their primaries among them)."""
    return enis + pod_units(prefix_delegation, max(ips_held - enis, 0))


def warm_units(clusters: Sequence[ClusterReport]) -> int | None:
    """Units aws-node's warm pools hold: a warm address is one unit; under prefix delegation a
    unit is freed only with a whole idle /28, so the warm addresses' whole /28s (a floor)."""
    counted = False
    total = 0
    for cluster in clusters:
        pd = CniSettings.from_env(cluster.cni or {}).prefix_delegation
        for node in cluster.nodes:
            if not node.aws_node or node.warm_ips is None:
                continue
            counted = True
            total += node.warm_ips // IPS_PER_PREFIX if pd else node.warm_ips
    return total if counted else None


def _pct(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 1) if whole else 0.0


def usage(network: VpcNetwork, clusters: Sequence[ClusterReport]) -> NetworkAddressUsage:
    """The VPC against its own quota; the peered total is filled once every target's VPCs are
    counted (`with_peers`): until then a VPC with peers has none."""
    by_owner = vpc_units(network.enis)
    units = sum(by_owner.values())
    warm = warm_units(clusters)
    notes = [q.note for q in (network.quota, network.peered_quota) if q.note]
    if by_owner["lambda"]:
        notes.append(
            "Lambda counted as 6 units per Lambda ENI; AWS counts 6 per function, and one ENI "
            "serves every function of a subnet and security-group set: a floor"
        )
    if network.peerings_error:
        notes.append(
            f"VPC peerings could not be read ({network.peerings_error}): peered total unknown"
        )
    peers = [
        NauPeer(
            vpc_id=p.peer_vpc_id,
            account_id=p.peer_account_id,
            units=(
                sum(vpc_units(network.peer_enis[p.peer_vpc_id]).values())
                if p.peer_vpc_id in network.peer_enis
                else None
            ),
        )
        for p in network.peerings
    ]
    known = network.peerings_error is None and all(p.units is not None for p in peers)
    peered = units + sum(p.units or 0 for p in peers) if known else None
    return NetworkAddressUsage(
        vpc_id=network.vpc_id,
        units=units,
        quota=network.quota.value,
        quota_source=network.quota.source,
        free=network.quota.value - units,
        free_pct=_pct(network.quota.value - units, network.quota.value),
        units_by_owner=by_owner,
        warm_units=warm,
        warm_pct=None if warm is None else _pct(warm, units),
        peered_quota=network.peered_quota.value,
        peered_quota_source=network.peered_quota.source,
        peered_units=peered,
        peered_free=None if peered is None else network.peered_quota.value - peered,
        peers=peers,
        notes=notes,
    )


def with_peers(clusters: Sequence[ClusterReport]) -> list[ClusterReport]:
    """Every cluster with its VPC's peered total, once all audited VPCs are counted: a peer in
    an audited account and region gives its units; one outside leaves the total unknown."""
    counted: dict[tuple[str, str], tuple[str, int]] = {}
    for cluster in clusters:
        nau = cluster.network_address_usage
        if nau is not None:
            counted[(cluster.region, nau.vpc_id)] = (cluster.account_id, nau.units)
    result = []
    for cluster in clusters:
        nau = cluster.network_address_usage
        if nau is None or all(p.units is not None for p in nau.peers):
            result.append(cluster)
            continue
        peers = [
            p
            if p.units is not None
            else replace(p, units=counted.get((cluster.region, p.vpc_id), ("", None))[1])
            for p in nau.peers
        ]
        known = all(p.units is not None for p in peers)
        total = nau.units + sum(p.units or 0 for p in peers) if known else None
        notes = list(nau.notes)
        unknown = [p.vpc_id for p in peers if p.units is None]
        if unknown:
            notes.append(
                f"peered {noun(len(unknown), 'VPC')} {', '.join(unknown)} "
                f"{'is' if len(unknown) == 1 else 'are'} not in an audited account and region: "
                "their units, and so the peered total, are unknown"
            )
        result.append(
            replace(
                cluster,
                network_address_usage=replace(
                    nau,
                    peers=peers,
                    peered_units=total,
                    peered_free=None if total is None else nau.peered_quota - total,
                    notes=notes,
                ),
            )
        )
    return result


def crossed_quotas(nau: NetworkAddressUsage, delta: int) -> list[str]:
    """Why a change of `delta` units does not fit the VPC's quotas (empty: it fits)."""
    why = []
    after = nau.units + delta
    if delta > 0 and after > nau.quota:
        why.append(
            f"VPC {nau.vpc_id} would use {after:,} Network Address Usage units, past its quota "
            f"{nau.quota:,} (NetworkAddressUsageLimitExceeded)"
        )
    if delta > 0 and nau.peered_units is not None and nau.peered_units + delta > nau.peered_quota:
        why.append(
            f"VPC {nau.vpc_id} and its same-region peers would use "
            f"{nau.peered_units + delta:,} units, past the peered quota {nau.peered_quota:,} "
            f"(NetworkAddressUsagePeeredLimitExceeded)"
        )
    return why


def describe(nau: NetworkAddressUsage) -> str:
    """The one line the text report and the digest give a VPC's Network Address Usage."""
    source = "applied" if nau.quota_source == "applied" else "AWS's default, not read"
    line = (
        f"VPC {nau.vpc_id}: {nau.units:,} Network Address Usage units of {nau.quota:,} "
        f"({source}), {nau.free:,} free ({nau.free_pct:.1f}%)"
    )
    if nau.warm_units is not None:
        line += f"; aws-node's warm pools hold {nau.warm_units:,} ({nau.warm_pct or 0:.1f}%)"
    if nau.peers:
        if nau.peered_units is None:
            line += f"; with its {plural(len(nau.peers), 'same-region peer')}: unknown"
        else:
            line += (
                f"; with its same-region peers {nau.peered_units:,} of {nau.peered_quota:,} "
                f"({nau.peered_free:,} free)"
            )
    return line
