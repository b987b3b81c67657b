"""Where aws-node takes a cluster's next pod address from, as a value the capacity model asks
(pure): its settings, whether it discovers subnets, and for each subnet nodes launch in, the
subnets a node's next ENI may go to (`ClusterReport.eni_subnets`, found by
cni/subnet_discovery.py at audit time).

The rules (../shared/domain/vpc-cni-subnet-discovery.md §1-2, docs/design.md "Where pods take
addresses"):
- an existing ENI grows only within its own subnet, up to its per-ENI limit;
- a new ENI goes to the valid candidate with the most free addresses that can hold it
  (re-sorted for every ENI); discovery off: the node's own subnet only, refused on v1.22+
  when it is tagged `kubernetes.io/role/cni=0`; custom networking: the ENIConfig's subnet;
- the primary ENI gives pod addresses from the launch subnet unless custom networking is on
  or (discovery on, v1.22+) the launch subnet is excluded, in which case it gives none;
- security groups for pods: the trunk ENI (and every branch ENI) is in the launch subnet, or
  the ENIConfig's under custom networking, whatever its tags say.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ipaudit.cni.cni_settings import CniSettings
from ipaudit.report import ClusterReport
from ipaudit.snapshot import InstanceTypeLimits

IPS_PER_PREFIX = 16


@dataclass(frozen=True)
class TypeLimits:
    """One instance type under the settings: what its card-0 ENIs hold."""

    max_enis: int  # card 0's ENIs, MAX_ENI applied
    per_eni: int  # pod addresses (or /28 prefixes) per ENI: IPv4 per ENI - 1
    prefix_mode: bool
    trunk: bool  # security groups for pods puts a trunk ENI on it

    @property
    def unit(self) -> int:
        """Addresses per unit an ENI holds: 16 per prefix, else 1."""
        return IPS_PER_PREFIX if self.prefix_mode else 1


def eni_subnets_of(cluster: ClusterReport, *, custom: bool) -> dict[str, tuple[str, ...]]:
    """Per launch subnet, where a node's next ENI may go: the report's `eni_subnets`, or for a
    report before it, where its nodes' and groups' pods were said to draw."""
    found = {k: tuple(v) for k, v in cluster.eni_subnets.items()}
    if found:
        return found
    moves = cluster.subnet_discovery or custom
    for node in cluster.nodes:
        pool = tuple(node.pool_subnet_ids) if moves else ()
        found.setdefault(node.subnet_id, pool or (node.subnet_id,))
    for ceiling in cluster.ceilings:
        for zone in ceiling.zones:
            for launch in zone.launch_subnet_ids:
                pool = tuple(zone.pool_subnet_ids)
                found.setdefault(launch, pool if custom and pool else (launch, *pool))
    return found


@dataclass(frozen=True)
class AddressRules:
    settings: CniSettings
    discovery: bool  # enhanced subnet discovery decides where new ENIs go
    eni_subnets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, cluster: ClusterReport, settings: CniSettings) -> AddressRules:
        return cls(
            settings=settings,
            discovery=cluster.subnet_discovery and not settings.custom_networking,
            eni_subnets=eni_subnets_of(cluster, custom=settings.custom_networking),
        )

    def new_eni_subnets(self, launch: str, fallback: tuple[str, ...] = ()) -> tuple[str, ...]:
        """Where a node launched in `launch` may create its next ENI; `fallback` (a node's own
        `pool_subnet_ids`) for a report that predates `eni_subnets`."""
        if launch in self.eni_subnets:
            return self.eni_subnets[launch]
        return fallback or (launch,)

    def primary_gives_pods(self, launch: str, fallback: tuple[str, ...] = ()) -> bool:
        """Whether the primary ENI holds pod addresses from the launch subnet."""
        if self.settings.custom_networking:
            return False
        return not self.discovery or launch in self.new_eni_subnets(launch, fallback)

    def trunk_subnet(self, launch: str, fallback: tuple[str, ...] = ()) -> str:
        """Where security groups for pods' trunk and branch ENIs go: the launch subnet, or the
        ENIConfig's under custom networking (the VPC resource controller reads no tags)."""
        if self.settings.custom_networking:
            return (self.new_eni_subnets(launch, fallback) or (launch,))[0]
        return launch

    def limits(self, limits: InstanceTypeLimits) -> TypeLimits:
        max_enis = limits.max_enis
        if self.settings.max_eni >= 1:
            max_enis = min(self.settings.max_eni, max_enis)
        return TypeLimits(
            max_enis=max_enis,
            per_eni=limits.ipv4_per_eni - 1,
            prefix_mode=self.settings.prefix_delegation and limits.supports_prefix_delegation,
            trunk=self.settings.pod_eni and limits.takes_trunk_eni,
        )

    def new_eni_request(self, per_eni: int, short: int | None = None) -> int:
        """Units (addresses, or prefixes) ipamd creates a new ENI with when `short` more are
        wanted (GetENIResourcesToAllocate): a full ENI under WARM_ENI_TARGET; under
        WARM_IP_TARGET / MINIMUM_IP_TARGET what is short, at most WARM_IP_TARGET (the rest
        follows on that ENI, in its subnet); under prefix delegation WARM_PREFIX_TARGET's
        prefixes (or WARM_IP_TARGET's, in /28s). `short` None: the pool empty, nothing more."""
        settings = self.settings
        if settings.prefix_delegation:
            if settings.warm_ip_targets_defined:
                target = -(-max(1, settings.warm_ip_target) // IPS_PER_PREFIX)
            else:
                target = max(1, settings.warm_prefix_target)
        elif settings.warm_ip_targets_defined:
            target = max(1, settings.warm_ip_target)
        else:
            return per_eni
        return min(per_eni, max(1, target if short is None else min(short, target)))
