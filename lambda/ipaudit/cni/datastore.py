"""One node's address pool as ipamd's datastore holds it: ENIs, their addresses, who uses them.

Addresses are counted, not named. A `Block` is what placement and release work on: in
secondary-IP mode an ENI's secondary addresses (released one by one), in prefix mode one /28
(released whole, and only when no pod uses it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ipaudit.snapshot import InstanceTypeLimits

IPS_PER_PREFIX = 16
MIN_ENI_LIFETIME = 60  # seconds before ipamd considers deleting an ENI (minENILifeTime)


@dataclass
class Block:
    size: int
    assigned: int = 0
    # When each recently freed address leaves IP_COOLDOWN_PERIOD: it cools while now <= this.
    cooling: list[int] = field(default_factory=list)

    def cooling_count(self, now: int) -> int:
        if self.cooling and self.cooling[0] < now:
            self.cooling = [until for until in self.cooling if until >= now]
        return len(self.cooling)

    def assignable(self, now: int) -> int:
        return self.size - self.assigned - self.cooling_count(now)

    def release_pods(self, count: int, cooling_until: int) -> None:
        self.assigned -= count
        self.cooling.extend([cooling_until] * count)
        self.cooling.sort()

    def unassign_addresses(self, count: int, now: int) -> None:
        """Give `count` unused addresses back to EC2, idle ones before cooling ones."""
        idle = self.size - self.assigned - self.cooling_count(now)
        from_cooling = max(count - idle, 0)
        if from_cooling:
            del self.cooling[-from_cooling:]
        self.size -= count


@dataclass
class PoolEni:
    """One ENI as ipamd's datastore models it (not `snapshot.Eni`, which is EC2's view)."""

    device: int
    created: int
    primary: bool = False
    blocks: list[Block] = field(default_factory=list)

    @property
    def addresses(self) -> int:
        return sum(block.size for block in self.blocks)

    @property
    def assigned(self) -> int:
        return sum(block.assigned for block in self.blocks)

    def in_cooling(self, now: int) -> bool:
        return any(block.cooling_count(now) for block in self.blocks)


@dataclass(frozen=True)
class PoolStats:
    """ipamd's DataStoreStats: cooling addresses count as available."""

    total: int
    assigned: int
    prefixes: int
    free_prefixes: int

    @property
    def available(self) -> int:
        return self.total - self.assigned


class Node:
    """The node's ENIs in device order; the primary ENI (device 0) is never detached."""

    def __init__(
        self, limits: InstanceTypeLimits, *, prefix_mode: bool, max_enis: int, trunk: bool = False
    ) -> None:
        self.prefix_mode = prefix_mode
        # Security groups for pods: the trunk ENI (one primary address, no pod addresses) holds
        # one of the instance's ENI slots, so the pool has one fewer (ipamd's hasRoomForEni).
        self.trunk = trunk
        self.max_enis = max(max_enis - int(trunk), 1)
        # awsutils.GetENIIPv4Limit: an ENI's primary address never goes to pods.
        self.slots_per_eni = limits.ipv4_per_eni - 1
        self.max_ips_per_eni = self.slots_per_eni * (IPS_PER_PREFIX if prefix_mode else 1)
        self.enis: list[PoolEni] = [
            PoolEni(device=0, created=0, primary=True, blocks=self._no_blocks())
        ]

    def _no_blocks(self) -> list[Block]:
        return [] if self.prefix_mode else [Block(0)]

    def blocks(self) -> list[Block]:
        return [block for eni in self.enis for block in eni.blocks]

    def stats(self) -> PoolStats:
        total = assigned = prefixes = free_prefixes = 0
        for eni in self.enis:
            for block in eni.blocks:
                total += block.size
                assigned += block.assigned
                if self.prefix_mode:
                    prefixes += 1
                    free_prefixes += int(block.assigned == 0)
        return PoolStats(total, assigned, prefixes, free_prefixes)

    def used_slots(self, eni: PoolEni) -> int:
        """Secondary addresses, or prefixes, already on the ENI."""
        return len(eni.blocks) if self.prefix_mode else eni.addresses

    def add_to_eni(self, eni: PoolEni, amount: int) -> None:
        if self.prefix_mode:
            eni.blocks.extend(Block(IPS_PER_PREFIX) for _ in range(amount))
        else:
            eni.blocks[0].size += amount

    def attach_eni(self, now: int, amount: int) -> PoolEni:
        """A new ENI on the lowest free device number, created with `amount` addresses/prefixes."""
        used = {eni.device for eni in self.enis}
        device = next(d for d in range(len(self.enis) + 1) if d not in used)
        eni = PoolEni(device=device, created=now, blocks=self._no_blocks())
        self.add_to_eni(eni, amount)
        self.enis.append(eni)
        self.enis.sort(key=lambda e: e.device)
        return eni

    def restore(self, slots_per_eni: Sequence[int]) -> None:
        """Replace the pool by one that has been there for a while (old enough to detach)."""
        self.enis = []
        for device, slots in enumerate(list(slots_per_eni)[: self.max_enis] or [0]):
            eni = PoolEni(device, -MIN_ENI_LIFETIME, device == 0, self._no_blocks())
            self.add_to_eni(eni, min(slots, self.slots_per_eni))
            self.enis.append(eni)

    def detach_eni(self, eni: PoolEni) -> None:
        self.enis.remove(eni)

    @property
    def secondary_ips(self) -> int:
        return sum(eni.addresses for eni in self.enis)

    @property
    def eni_count(self) -> int:
        """Every ENI on the node: the pool's and the trunk."""
        return len(self.enis) + int(self.trunk)

    @property
    def ips_held(self) -> int:
        return self.eni_count + self.secondary_ips
