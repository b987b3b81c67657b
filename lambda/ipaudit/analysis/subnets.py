"""Subnet headroom: free addresses, and free /28 blocks for prefix delegation."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable

from ipaudit.report import SubnetReport
from ipaudit.snapshot import Eni, Subnet

# AWS keeps the first four addresses and the last one of every subnet.
RESERVED_AT_START = 4
RESERVED_AT_END = 1
PREFIX_LENGTH = 28


def usable_addresses(cidr: str) -> int:
    return int(ipaddress.ip_network(cidr).num_addresses) - RESERVED_AT_START - RESERVED_AT_END


def free_prefix_blocks(cidr: str, enis: Iterable[Eni]) -> int:
    """The /28 blocks of `cidr` holding no used and no reserved address.

    A /28 prefix can only be delegated to an ENI from such a block, so a fragmented subnet can
    have free addresses and still fail prefix delegation (InsufficientCidrBlocks).
    """
    network = ipaddress.ip_network(cidr)
    if network.version != 4 or network.prefixlen > PREFIX_LENGTH:
        return 0
    base = int(network.network_address)
    blocks = 1 << (PREFIX_LENGTH - network.prefixlen)
    taken: set[int] = {0, blocks - 1}  # the blocks with the reserved addresses
    for eni in enis:
        for address in (*eni.private_ips, *(p.partition("/")[0] for p in eni.prefixes)):
            index = (_ipv4(address) - base) >> 4
            if 0 <= index < blocks:
                taken.add(index)
    return blocks - len(taken)


def _ipv4(address: str) -> int:
    # inet_aton is ~10x faster than ipaddress for the hundred thousand addresses of a large VPC.
    try:
        return int.from_bytes(socket.inet_aton(address), "big")
    except OSError:
        return -1  # not an IPv4 address: in no block


def subnet_report(subnet: Subnet, enis: Iterable[Eni]) -> SubnetReport:
    usable = usable_addresses(subnet.cidr)
    # moto (and a subnet mid-change) can report more in use than exists; never below zero.
    free = max(0, min(subnet.available_ips, usable))
    in_subnet = [eni for eni in enis if eni.subnet_id == subnet.subnet_id]
    return SubnetReport(
        subnet_id=subnet.subnet_id,
        cidr=subnet.cidr,
        az=subnet.az,
        usable=usable,
        free=free,
        free_pct=round(100.0 * free / usable, 1) if usable > 0 else 0.0,
        free_prefix_blocks=free_prefix_blocks(subnet.cidr, in_subnet),
    )
