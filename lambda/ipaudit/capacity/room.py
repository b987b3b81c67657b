"""The free addresses and /28 blocks a cluster may still take, subnet by subnet: the one ledger
every capacity answer charges as it places addresses (pure).

A subnet several audited clusters draw on is split between them in equal shares, so that no
two clusters' answers claim the same addresses; within a cluster, a subnet several node groups
launch in is split again between them (`equal_share`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from ipaudit.report import ClusterReport

IPS_PER_PREFIX = 16


def equal_share(total: int, users: Iterable[str], me: str) -> int:
    """`me`'s equal share of `total` among `users` (and `me`): the odd ones to the first by
    name. Shares never sum to more than `total`, so nothing is claimed twice."""
    ranked = sorted(set(users) | {me})
    rank = ranked.index(me)
    return total // len(ranked) + int(rank < total % len(ranked))


def free_shares(cluster: ClusterReport, free: Mapping[str, int] | None = None) -> dict[str, int]:
    """Each subnet's free addresses this cluster may count as its own: all of them, or, in a
    subnet other audited clusters draw on too, an equal share (the odd ones to the first
    clusters by name). `free` counts something else per subnet instead (what a change leaves,
    free /28 blocks)."""
    return {
        subnet.subnet_id: equal_share(
            subnet.free if free is None else free.get(subnet.subnet_id, subnet.free),
            subnet.clusters,
            cluster.name,
        )
        for subnet in cluster.subnets
    }


class Room:
    """Free addresses and whole free /28 blocks per subnet, charged as addresses are placed.

    A subnet not in the ledger has nothing free: nothing is assumed about a subnet EC2 did
    not describe."""

    def __init__(self, free: Mapping[str, int], blocks: Mapping[str, int] | None = None) -> None:
        self.free = dict(free)
        self.blocks = {s: (blocks or {}).get(s, 0) for s in self.free}

    @classmethod
    def of(
        cluster: type[Room],
        report: ClusterReport,
        *,
        free: Mapping[str, int] | None = None,
        blocks: Mapping[str, int] | None = None,
    ) -> Room:
        """This cluster's share of every subnet it draws on, and of its VPC's other subnets as
        EC2 counted them (a discovered subnet it does not use yet): as reported, or as `free`
        and `blocks` say by subnet."""
        known = {s.subnet_id: s for s in report.subnets}
        free_now = {s: v.free for s, v in known.items()} | dict(free or {})
        blocks_now = {s: v.free_prefix_blocks for s, v in known.items()} | dict(blocks or {})
        outside = {
            s.subnet_id: free_now.get(s.subnet_id, s.free)
            for s in report.vpc_subnets
            if s.subnet_id not in known
        }
        return cluster(
            free_shares(report, free_now) | outside,
            free_shares(report, blocks_now) | {s: blocks_now.get(s, 0) for s in outside},
        )

    def copy(self) -> Room:
        return Room(self.free, self.blocks)

    def can_hold(self, subnet_id: str, addresses: int, prefixes: int = 0) -> bool:
        return self.free.get(subnet_id, 0) >= addresses and self.blocks.get(subnet_id, 0) >= (
            prefixes
        )

    def most_free(self, subnet_ids: Iterable[str], addresses: int, prefixes: int = 0) -> str | None:
        """Of `subnet_ids`, the one with the most free addresses that can hold `addresses`
        (of which `prefixes` whole /28s), ties by id: where ipamd's next ENI goes (it sorts
        DescribeSubnets' answer by AvailableIpAddressCount and skips one EC2 refuses)."""
        able = [s for s in subnet_ids if self.can_hold(s, addresses, prefixes)]
        return min(able, key=lambda s: (-self.free.get(s, 0), s), default=None)

    def take(self, subnet_id: str, addresses: int, prefixes: int = 0) -> None:
        """`addresses` (of which `prefixes` whole /28s) out of a subnet; negative: given back.

        Single addresses use the free addresses outside whole free blocks first (at best),
        then spoil a block per 16; addresses given back give no block back (fragmentation)."""
        if addresses <= 0:
            self.free[subnet_id] = self.free.get(subnet_id, 0) - addresses
            return
        whole = self.blocks.get(subnet_id, 0)
        loose = max(0, self.free.get(subnet_id, 0) - IPS_PER_PREFIX * whole)
        singles = max(0, addresses - IPS_PER_PREFIX * prefixes)
        spoiled = max(0, math.ceil((singles - loose) / IPS_PER_PREFIX))
        self.free[subnet_id] = self.free.get(subnet_id, 0) - addresses
        self.blocks[subnet_id] = max(0, whole - prefixes - spoiled)
