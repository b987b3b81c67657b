"""What a set of aws-node settings would do to a cluster's nodes, by simulating every node.

Each node is simulated under `spread` (the realistic worst case) through its peak and then its
observed pods. The peak is what the node's pool shows it once served: the fewest pods that make
the current settings hold the addresses the node holds now (at least its pods). Simulations are
memoized by (limits, settings, pods), so nodes alike cost one run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from ipaudit.cni.max_pods import max_pods as default_max_pods
from ipaudit.cni.settings import CniSettings
from ipaudit.cni.simulator import HOST_NETWORK_PODS, simulate
from ipaudit.report import ClusterReport
from ipaudit.snapshot import InstanceTypeLimits

PLACEMENT = "spread"


@dataclass(frozen=True)
class NodeLoad:
    limits: InstanceTypeLimits
    pods: int
    peak: int
    max_pods: int

    @property
    def steps(self) -> tuple[int, ...]:
        return (self.peak, self.pods) if self.peak > self.pods else (self.pods,)


@dataclass(frozen=True)
class Outcome:
    """The cluster's nodes under one set of settings."""

    settings: CniSettings
    ips_held: int  # after the peak, with the observed pods
    warm_ips: int
    peak_ips_held: int
    peak_prefixes: int
    pending: int  # pods left without an address, at the peak or after
    ec2_calls: int
    pod_starts: int
    burst_seconds: int | None  # the slowest node to give all its peak pods an address

    @property
    def calls_per_pod_start(self) -> float:
        return self.ec2_calls / self.pod_starts if self.pod_starts else 0.0


def node_loads(
    cluster: ClusterReport, limits: Mapping[str, InstanceTypeLimits], current: CniSettings
) -> list[NodeLoad]:
    """The nodes the model can run: a known type and a known pod count."""
    loads = []
    for node in cluster.nodes:
        node_limits = limits.get(node.instance_type)
        if node_limits is None or node.pods is None:
            continue
        cap = node.max_pods or default_max_pods(node_limits)
        peak = _peak(node_limits, current, node.pods, node.secondary_ips, cap)
        loads.append(NodeLoad(node_limits, node.pods, peak, cap))
    return loads


def evaluate(settings: CniSettings, loads: Sequence[NodeLoad]) -> Outcome:
    held = warm = peak_held = peak_prefixes = pending = calls = starts = 0
    burst: int | None = 0
    for load in loads:
        result = simulate(
            load.limits, settings, load.steps, max_pods=load.max_pods, placement=PLACEMENT
        )
        first, last = result.steps[0], result.steps[-1]
        held += last.ips_held
        warm += last.warm_ips
        peak_held += first.ips_held
        peak_prefixes += first.prefixes
        pending += max(step.pending for step in result.steps)
        calls += result.ec2_calls["total"]
        starts += first.pods_wanted
        if burst is not None:
            burst = None if first.seconds_to_place is None else max(burst, first.seconds_to_place)
    return Outcome(settings, held, warm, peak_held, peak_prefixes, pending, calls, starts, burst)


@lru_cache(maxsize=4096)
def _peak(
    limits: InstanceTypeLimits, settings: CniSettings, pods: int, observed: int, max_pods: int
) -> int:
    """The fewest pods (>= pods) for which the settings hold `observed` secondary addresses."""

    def held(peak: int) -> int:
        result = simulate(limits, settings, (peak,), max_pods=max_pods, placement=PLACEMENT)
        return result.steps[0].secondary_ips

    if settings.ipv6 or held(pods) >= observed:
        return pods
    low, high = pods, max(max_pods - HOST_NETWORK_PODS, pods)
    if held(high) < observed:
        return high
    while high - low > 1:  # held(low) < observed <= held(high)
        middle = (low + high) // 2
        if held(middle) >= observed:
            high = middle
        else:
            low = middle
    return high
