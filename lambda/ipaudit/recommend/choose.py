"""Which simulated candidate to recommend: the most addresses back among the acceptable ones."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ipaudit.recommend.candidates import Candidate
from ipaudit.recommend.evaluate import Outcome

# ipamd's defaults cost well under 0.5 EC2 calls per pod start; EC2 throttles per account and
# region, and a throttled ipamd attaches nothing anywhere, so a tighter pool may cost at most:
EC2_CALLS_PER_POD_START = 0.5


@dataclass(frozen=True)
class Room:
    """What the cluster's subnets can give: free addresses plus what the nodes hold now."""

    addresses: int
    free_prefix_blocks: int


def choose(
    now: Outcome, evaluated: Sequence[tuple[Candidate, Outcome]], room: Room
) -> tuple[Candidate, Outcome] | None:
    """Reject candidates that leave pods without an address, need more addresses (or, to turn
    on prefix delegation, free /28 blocks) than the subnets have, cost more EC2 calls per pod
    start than the budget (or than now, if more), or starve pods; then hold the fewest."""
    budget = max(EC2_CALLS_PER_POD_START, now.calls_per_pod_start)
    accepted = []
    for candidate, outcome in evaluated:
        settings = outcome.settings
        if settings.starves_pods or outcome.pending > now.pending:
            continue
        if max(outcome.ips_held, outcome.burst_ips_held) > room.addresses:
            continue
        if outcome.calls_per_pod_start > budget:
            continue
        turning_on_prefixes = settings.prefix_delegation and not now.settings.prefix_delegation
        if turning_on_prefixes and outcome.burst_prefixes > room.free_prefix_blocks:
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
