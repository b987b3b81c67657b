"""Subnet headroom: free addresses, and free /28 blocks for prefix delegation."""

from __future__ import annotations

import array
import ipaddress
import socket
import sys
from collections.abc import Iterable, Mapping

from ipaudit.analysis.pod_addresses import ipv4_int
from ipaudit.report import SubnetReport, no_addresses
from ipaudit.snapshot import CidrReservation, Eni, Subnet

# AWS keeps the first four addresses and the last one of every subnet.
RESERVED_AT_START = 4
RESERVED_AT_END = 1
PREFIX_LENGTH = 28


def usable_addresses(cidr: str) -> int:
    return int(ipaddress.ip_network(cidr).num_addresses) - RESERVED_AT_START - RESERVED_AT_END


def free_prefix_blocks(
    cidr: str, enis: Iterable[Eni], reservations: Iterable[CidrReservation] = ()
) -> int:
    """The /28 blocks of `cidr` holding no used and no reserved address.

    A /28 prefix can only be delegated to an ENI from such a block, so a fragmented subnet can
    have free addresses and still fail prefix delegation (InsufficientCidrBlocks). An `explicit`
    CIDR reservation keeps its blocks from prefixes too; a `prefix` reservation keeps them for
    prefixes, so its blocks stay available.
    """
    network = ipaddress.ip_network(cidr)
    if network.version != 4 or network.prefixlen > PREFIX_LENGTH:
        return 0
    base = int(network.network_address)
    blocks = 1 << (PREFIX_LENGTH - network.prefixlen)
    taken: set[int] = {0, blocks - 1}  # the blocks with the reserved addresses
    taken.update(
        index for index in map(lambda n: (n - base) >> 4, _blocks_used(enis)) if 0 <= index < blocks
    )
    for reservation in reservations:
        if reservation.kind == "prefix":
            continue
        reserved = ipaddress.ip_network(reservation.cidr, strict=False)
        first = (int(reserved.network_address) - base) >> 4
        last = (int(reserved.broadcast_address) - base) >> 4
        taken.update(i for i in range(max(first, 0), min(last, blocks - 1) + 1))
    return blocks - len(taken)


def _blocks_used(enis: Iterable[Eni]) -> set[int]:
    """The first address (as an integer) of every /28 block the ENIs' addresses fall in.

    A large subnet holds hundreds of thousands of addresses: they are packed as 4-byte words
    and masked to their block in C, so Python touches each block once, not each address."""
    enis = list(enis)
    prefixes = [p.partition("/")[0] for eni in enis for p in eni.prefixes]
    try:
        # Joined ENI by ENI, then once: the small joins stay in cache (twice as fast as one).
        chunks = [b"".join(map(socket.inet_aton, eni.private_ips)) for eni in enis]
        chunks.append(b"".join(map(socket.inet_aton, prefixes)))
        packed = bytearray(b"".join(chunks))
    except OSError:  # not dotted IPv4 (never from EC2): one by one, skipping what is not
        addresses = [a for eni in enis for a in eni.private_ips] + prefixes
        return {n & ~0xF for n in map(ipv4_int, addresses) if n >= 0}
    packed[3::4] = packed[3::4].translate(_LOW_NIBBLE_CLEARED)
    words = array.array("I")
    words.frombytes(packed)
    if sys.byteorder == "little":
        words.byteswap()  # inet_aton's bytes are big-endian
    return set(words)


_LOW_NIBBLE_CLEARED = bytes(b & 0xF0 for b in range(256))


def ec2_free(subnet: Subnet) -> int:
    """EC2's free count, within 0..usable: moto (and a subnet mid-change) can report more in use
    than exists."""
    return max(0, min(subnet.available_ips, usable_addresses(subnet.cidr)))


def subnet_report(
    subnet: Subnet,
    enis: Iterable[Eni],
    *,
    free: int | None = None,
    roles: Iterable[str] = (),
    clusters: Iterable[str] = (),
    addresses: Mapping[str, int] | None = None,
) -> SubnetReport:
    """`free`: the free count the attribution settled on (EC2's by default)."""
    usable = usable_addresses(subnet.cidr)
    free = ec2_free(subnet) if free is None else free
    in_subnet = [eni for eni in enis if eni.subnet_id == subnet.subnet_id]
    return SubnetReport(
        subnet_id=subnet.subnet_id,
        cidr=subnet.cidr,
        az=subnet.az,
        usable=usable,
        free=free,
        free_pct=round(100.0 * free / usable, 1) if usable > 0 else 0.0,
        free_prefix_blocks=free_prefix_blocks(subnet.cidr, in_subnet, subnet.reservations),
        roles=list(roles),
        clusters=list(clusters),
        addresses=dict(addresses) if addresses is not None else no_addresses(),
    )
