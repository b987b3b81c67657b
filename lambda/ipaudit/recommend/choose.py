"""Which simulated candidate to recommend: the most addresses back among the acceptable ones."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ipaudit.recommend.candidates import Candidate
from ipaudit.recommend.evaluate import Outcome

# ipamd's defaults cost well under 0.5 EC2 calls per pod start; EC2 throttles per account and
# region, and a throttled ipamd attaches nothing anywhere, so a tighter pool may cost at most:
EC2_CALLS_PER_POD_START = 0.5


@dataclass(frozen=True)
class Room:
    """What each pool subnet can give the cluster's nodes drawing on it: its free addresses
    (the cluster's share of them, when other clusters draw on it too) plus what those nodes
    hold now, and its free /28 blocks."""

    addresses: Mapping[tuple[str, ...], int]  # by pool: the subnets its nodes draw on
    free_prefix_blocks: Mapping[tuple[str, ...], int]


@dataclass(frozen=True)
class ShortBlocks:
    pool: tuple[str, ...]
    needed: int
    free: int

    @property
    def subnets(self) -> str:
        return " and ".join(self.pool)


def short_blocks(now: Outcome, outcome: Outcome, room: Room) -> list[ShortBlocks]:
    """The pool subnets without the free /28 blocks turning prefix delegation on needs: each
    of its nodes, replaced, takes its prefixes there (none when the mode does not change)."""
    if not outcome.settings.prefix_delegation or now.settings.prefix_delegation:
        return []
    return [
        ShortBlocks(subnet, needed, room.free_prefix_blocks.get(subnet, 0))
        for subnet, needed in sorted(outcome.burst_prefixes_by_subnet.items())
        if needed > room.free_prefix_blocks.get(subnet, 0)
    ]


def choose(
    now: Outcome, evaluated: Sequence[tuple[Candidate, Outcome]], room: Room
) -> tuple[Candidate, Outcome] | None:
    """Reject candidates that leave pods without an address, need more addresses (or, to turn
    on prefix delegation, free /28 blocks) than a pool subnet has, cost more EC2 calls per pod
    start than the budget (or than now, if more), or starve pods; then hold the fewest."""
    budget = max(EC2_CALLS_PER_POD_START, now.calls_per_pod_start)
    accepted = []
    for candidate, outcome in evaluated:
        if outcome.settings.starves_pods or outcome.pending > now.pending:
            continue
        if _needs_more_than_room(outcome, room):
            continue
        if outcome.calls_per_pod_start > budget:
            continue
        if short_blocks(now, outcome, room):
            continue
        accepted.append((candidate, outcome))
    if not accepted:
        return None
    return min(
        accepted,
        key=lambda pair: (
            pair[1].ips_held,
            pair[1].calls_per_pod_start,
            1 << 30 if pair[1].burst_seconds is None else pair[1].burst_seconds,
        ),
    )


def _needs_more_than_room(outcome: Outcome, room: Room) -> bool:
    subnets = outcome.held_by_subnet.keys() | outcome.burst_held_by_subnet.keys()
    return any(
        max(outcome.held_by_subnet.get(s, 0), outcome.burst_held_by_subnet.get(s, 0))
        > room.addresses.get(s, 0)
        for s in subnets
    )
