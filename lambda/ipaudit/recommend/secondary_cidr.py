"""A secondary CIDR for pods that fits the VPC: a free block of 100.64.0.0/10, one subnet per
zone, sized to what the pods draw with room to double (pure)."""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

CGNAT = ipaddress.IPv4Network("100.64.0.0/10")  # RFC 6598, which EKS's custom networking uses
HEADROOM = 2  # pod subnets sized for twice what the pods draw now: room to grow, and to roll
LARGEST_VPC_BLOCK = 16  # a VPC's CIDR blocks are /16 to /28
SMALLEST_POD_SUBNET = 24  # a pod subnet smaller than a /24 is soon full again
AWS_RESERVED = 5  # every subnet's first four addresses and its last one


@dataclass(frozen=True)
class PodSubnet:
    az: str
    cidr: str
    usable: int


@dataclass(frozen=True)
class SecondaryCidr:
    block: str
    subnets: tuple[PodSubnet, ...]
    needed_per_zone: int  # addresses the pods draw in the busiest zone, headroom included
    fits: bool  # False: even a /16 split over the zones is short of `needed_per_zone`


def plan_secondary_cidr(
    vpc_cidrs: Iterable[str], addresses_by_zone: Mapping[str, int]
) -> SecondaryCidr | None:
    """The first block of 100.64.0.0/10 that overlaps none of the VPC's CIDRs, holding one
    equal subnet per zone big enough for the busiest zone's pods, twice over. None when the
    VPC already uses all of 100.64.0.0/10."""
    zones = sorted(addresses_by_zone)
    needed = HEADROOM * max(addresses_by_zone.values(), default=0)
    subnet_prefix = pod_subnet_prefix(needed)
    zone_bits = math.ceil(math.log2(max(len(zones), 1)))
    block_prefix = subnet_prefix - zone_bits
    if block_prefix < LARGEST_VPC_BLOCK:
        block_prefix = LARGEST_VPC_BLOCK
        subnet_prefix = LARGEST_VPC_BLOCK + zone_bits
    taken = [ipaddress.ip_network(c, strict=False) for c in vpc_cidrs]
    taken4 = [n for n in taken if isinstance(n, ipaddress.IPv4Network)]
    for block in CGNAT.subnets(new_prefix=block_prefix):
        if any(block.overlaps(other) for other in taken4):
            continue
        pieces = list(block.subnets(new_prefix=subnet_prefix))
        return SecondaryCidr(
            block=str(block),
            subnets=tuple(
                PodSubnet(zone, str(piece), usable_addresses(subnet_prefix))
                for zone, piece in zip(zones, pieces, strict=False)
            ),
            needed_per_zone=needed,
            fits=usable_addresses(subnet_prefix) >= needed,
        )
    return None


def pod_subnet_prefix(needed: int) -> int:
    """The smallest subnet (a /24 at least, a /16 at most) with `needed` usable addresses."""
    prefix = SMALLEST_POD_SUBNET
    while prefix > LARGEST_VPC_BLOCK and usable_addresses(prefix) < needed:
        prefix -= 1
    return prefix


def usable_addresses(prefix: int) -> int:
    return (1 << (32 - prefix)) - AWS_RESERVED
