"""Where pods' addresses sit on the node, which decides what ipamd can give back (docs/design.md).

`pack`: pods fill the lowest-numbered ENIs (prefixes) first and leave from the highest.
`spread`: after every change pods sit as evenly as possible over every ENI (prefix) holding
addresses, the worst case that long churn under ipamd's random choice tends to.
`random`: ipamd's own choice, a walk over Go maps (ENIs, then their addresses or prefixes),
seeded so that a run can be repeated.

The same policy decides ipamd's other map walks (which ENI gets addresses, which gives them
back, which is detached): lowest first for additions and highest first for releases under
`pack` and `spread`, random under `random`.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TypeVar

from ipaudit.cni.datastore import Block, Node

PLACEMENTS = ("pack", "random", "spread")

T = TypeVar("T")


def even_split(caps: Sequence[int], total: int) -> list[int]:
    """`total` spread as evenly as the caps allow (water filling); needs total <= sum(caps)."""
    result = [0] * len(caps)
    remaining = total
    order = sorted(range(len(caps)), key=caps.__getitem__)
    for position, index in enumerate(order):
        share = -(-remaining // (len(caps) - position))
        result[index] = min(caps[index], share)
        remaining -= result[index]
    return result


class Placement:
    def __init__(self, policy: str, seed: int = 0) -> None:
        if policy not in PLACEMENTS:
            raise ValueError(f"unknown placement {policy!r}")
        self.policy = policy
        self._rng = random.Random(seed)

    def first(self, items: Sequence[T]) -> T:
        """The one an addition picks among several candidates."""
        return self._rng.choice(items) if self.policy == "random" else items[0]

    def last(self, items: Sequence[T]) -> T:
        """The one a release picks among several candidates."""
        return self._rng.choice(items) if self.policy == "random" else items[-1]

    def release_order(self, items: Sequence[T]) -> list[T]:
        ordered = list(items)
        if self.policy == "random":
            self._rng.shuffle(ordered)
        else:
            ordered.reverse()
        return ordered

    def add_pods(self, node: Node, count: int, now: int) -> int:
        """Give up to `count` waiting pods an address; how many got one. Under `spread` they
        land as under `pack` until `rebalance`, which the caller runs after every change."""
        placed = 0
        if self.policy == "random":
            while placed < count:
                enis = [e for e in node.enis if any(b.assignable(now) > 0 for b in e.blocks)]
                if not enis:
                    break
                eni = self._rng.choice(enis)
                block = self._rng.choice([b for b in eni.blocks if b.assignable(now) > 0])
                block.assigned += 1
                placed += 1
            return placed
        # pack, and spread until `rebalance` evens things out
        for block in node.blocks():
            take = min(block.assignable(now), count - placed)
            if take > 0:
                block.assigned += take
                placed += take
            if placed == count:
                break
        return placed

    def remove_pods(self, node: Node, count: int, cooling_until: int) -> None:
        """`count` pods end; their addresses cool down where they were."""
        blocks = node.blocks()
        if self.policy == "pack":
            for block in reversed(blocks):
                take = min(block.assigned, count)
                if take:
                    block.release_pods(take, cooling_until)
                    count -= take
            return
        if self.policy == "spread":
            left = even_split([b.assigned for b in blocks], sum(b.assigned for b in blocks) - count)
            for block, keep in zip(blocks, left, strict=True):
                if block.assigned > keep:
                    block.release_pods(block.assigned - keep, cooling_until)
            return
        for _ in range(count):
            chosen = _nth_assigned(blocks, self._rng.randrange(sum(b.assigned for b in blocks)))
            chosen.release_pods(1, cooling_until)

    def rebalance(self, node: Node, now: int) -> bool:
        """Under `spread`, move pods so that they sit evenly again; whether anything moved."""
        if self.policy != "spread":
            return False
        blocks = node.blocks()
        caps = [block.size - block.cooling_count(now) for block in blocks]
        target = even_split(caps, sum(block.assigned for block in blocks))
        moved = False
        for block, assigned in zip(blocks, target, strict=True):
            if block.assigned != assigned:
                block.assigned = assigned
                moved = True
        return moved


def _nth_assigned(blocks: Sequence[Block], n: int) -> Block:
    for block in blocks:
        if n < block.assigned:
            return block
        n -= block.assigned
    raise IndexError(n)
