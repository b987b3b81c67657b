"""Run ipamd's pool manager on one node through a sequence of pod counts (docs/design.md).

A step sets the pods wanted on the node and runs 5-second passes, with ipamd's timers and
cooldowns, until nothing can change any more; then it reports that steady state. Passes in
which nothing can happen are skipped to the next timer (a cooldown ending, an ENI coming of
age, the decrease interval passing), so a quiet node costs nothing to simulate.

Kubelet admits at most max_pods - 2 pods with a VPC address: the +2 of E*(I-1)+2 is aws-node
and kube-proxy, which use the host network. Admitted pods without an address wait
and retry on every pass, as kubelet does; the CNI never allocates on demand. A step's `pending`
is every wanted pod without an address: waiting for one, or refused by kubelet's max pods.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ipaudit.cni.cni_settings import CniSettings
from ipaudit.cni.datastore import Node
from ipaudit.cni.kubelet_max_pods import max_pods as default_max_pods
from ipaudit.cni.placement import Placement
from ipaudit.cni.pool import EC2_APIS, PoolManager
from ipaudit.errors import InputError
from ipaudit.snapshot import InstanceTypeLimits

TICK = 5  # seconds between pool-manager passes
HOST_NETWORK_PODS = 2
# ipamd never settles in some configurations (WARM_ENI_TARGET=0 or WARM_PREFIX_TARGET=0 with a
# full last ENI or prefix detaches and re-adds it forever); a step reports its state after this.
MAX_STEP_SECONDS = 2 * 60 * 60


@dataclass(frozen=True)
class StepResult:
    pods_wanted: int
    pods: int  # pods with an address
    pending: int
    enis: int
    secondary_ips: int
    prefixes: int
    ips_held: int
    warm_ips: int
    ec2_calls: int  # during this step
    seconds_to_place: int | None  # until every admitted pod had an address; None: never
    seconds: int  # until the step settled (or gave up)
    settled: bool
    # Per pool ENI in device order (the trunk left out): its secondary addresses, or its
    # prefixes in prefix mode. Where each lands is the capacity model's question.
    layout: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, int]:
        """The step as docs/design.md's scenario output shows it."""
        return {
            "pods_wanted": self.pods_wanted,
            "pods": self.pods,
            "pending": self.pending,
            "enis": self.enis,
            "secondary_ips": self.secondary_ips,
            "prefixes": self.prefixes,
            "ips_held": self.ips_held,
            "warm_ips": self.warm_ips,
        }


@dataclass(frozen=True)
class SimulationResult:
    steps: tuple[StepResult, ...]
    ec2_calls: Mapping[str, int]  # per EC2 API, plus "total"

    def to_dict(self) -> dict[str, Any]:
        return {"steps": [step.to_dict() for step in self.steps], "ec2_calls": dict(self.ec2_calls)}


def simulate(
    limits: InstanceTypeLimits,
    settings: CniSettings,
    steps: Sequence[int],
    *,
    max_pods: int | None = None,
    placement: str = "spread",
    seed: int = 0,
    max_ips_held: int | None = None,
    start: Sequence[int] | None = None,
) -> SimulationResult:
    """The node's steady state after each step; the same inputs always give the same result.

    `max_ips_held` is the most addresses the node's subnet lets it hold, primaries included;
    beyond it EC2 answers InsufficientFreeAddressesInSubnet and ipamd backs off for 120 s.
    `start` is the pool of a node that has been running a while: per ENI (the primary first),
    the secondary addresses, or prefixes in prefix mode, it holds. None: a brand-new node.
    """
    return _simulate(
        limits,
        settings,
        tuple(steps),
        default_max_pods(limits) if max_pods is None else max_pods,
        placement,
        seed,
        max_ips_held,
        None if start is None else tuple(start),
    )


@lru_cache(maxsize=4096)
def _simulate(
    limits: InstanceTypeLimits,
    settings: CniSettings,
    steps: tuple[int, ...],
    max_pods: int,
    placement: str,
    seed: int,
    max_ips_held: int | None,
    start: tuple[int, ...] | None,
) -> SimulationResult:
    if settings.ipv6:
        raise InputError("ENABLE_IPv6: the model covers IPv4 pod addresses only")
    run = _Run(limits, settings, max_pods, Placement(placement, seed), max_ips_held)
    if start is not None:
        run.node.restore(start)
    return run.run(steps)


class _Run:
    def __init__(
        self,
        limits: InstanceTypeLimits,
        settings: CniSettings,
        max_pods: int,
        place: Placement,
        max_ips_held: int | None,
    ) -> None:
        prefix_mode = settings.prefix_delegation and limits.supports_prefix_delegation
        max_enis = limits.max_enis
        if settings.max_eni >= 1:
            max_enis = min(settings.max_eni, max_enis)
        self.node = Node(
            limits,
            prefix_mode=prefix_mode,
            max_enis=max_enis,
            trunk=settings.pod_eni and limits.takes_trunk_eni,
        )
        self.settings = settings
        self.max_pods = max_pods
        self.place = place
        self.pool = PoolManager(
            self.node, settings, max_pods=max_pods, placement=place, max_ips_held=max_ips_held
        )
        self.now = 0
        self.admitted = 0  # pods kubelet runs on the node, with or without an address

    def run(self, steps: tuple[int, ...]) -> SimulationResult:
        results = tuple(self._step(wanted) for wanted in steps)
        calls = {api: self.pool.ec2_calls[api] for api in EC2_APIS}
        calls["total"] = sum(calls.values())
        return SimulationResult(results, calls)

    def _step(self, wanted: int) -> StepResult:
        start = self.now
        calls_before = self.pool.ec2_calls.total()
        self._set_pods(min(wanted, max(self.max_pods - HOST_NETWORK_PODS, 0)))
        placed_at: int | None = start if self._pending() == 0 else None
        changed = True
        settled = False
        while True:
            at = self._next_pass(changed)
            if at is None:
                settled = True
                break
            if at - start > MAX_STEP_SECONDS:
                break
            self.now = at
            changed = self.pool.run_pass(at)
            changed = self._place_pending() or changed
            changed = self.place.rebalance(self.node, at) or changed
            if placed_at is None and self._pending() == 0:
                placed_at = at
        stats = self.node.stats()
        return StepResult(
            pods_wanted=wanted,
            pods=stats.assigned,
            pending=wanted - stats.assigned,
            enis=self.node.eni_count,
            secondary_ips=stats.total,
            prefixes=stats.prefixes,
            ips_held=self.node.ips_held,
            warm_ips=stats.total - stats.assigned,
            ec2_calls=self.pool.ec2_calls.total() - calls_before,
            seconds_to_place=None if placed_at is None else placed_at - start,
            seconds=self.now - start,
            settled=settled,
            layout=tuple(self.node.used_slots(eni) for eni in self.node.enis),
        )

    def _pending(self) -> int:
        return self.admitted - self.node.stats().assigned

    def _set_pods(self, admitted: int) -> None:
        running = self.node.stats().assigned
        self.admitted = admitted
        if admitted < running:
            cooling_until = self.now + self.settings.ip_cooldown_seconds
            self.place.remove_pods(self.node, running - admitted, cooling_until)
        self._place_pending()
        self.place.rebalance(self.node, self.now)

    def _place_pending(self) -> bool:
        pending = self._pending()
        return pending > 0 and self.place.add_pods(self.node, pending, self.now) > 0

    def _next_pass(self, changed: bool) -> int | None:
        """The next pass worth running: the next tick after a change, else the next timer."""
        if changed:
            return self.now + TICK
        event = self.pool.next_event(self.now)
        if event is None:
            return None
        return max(-(-event // TICK) * TICK, self.now + TICK)


# ipamd forces WARM_IP_TARGET=1 and MINIMUM_IP_TARGET=1 on network cards above 0: one ENI with
# one secondary address (its datastoreTargetState); with prefix delegation one /28 instead.
EXTRA_CARD_IPS = 2
EXTRA_CARD_IPS_PREFIX = 1 + 16


def extra_cards_ips_held(limits: InstanceTypeLimits, settings: CniSettings) -> int:
    """What a node holds on its network cards above 0 before any pod lands there: nothing
    unless ENABLE_MULTI_NIC, and then the same on each (pods overflow to card 1 only when
    card 0 has no address left; the model places every pod on card 0)."""
    if not settings.multi_nic or len(limits.network_cards) < 2:
        return 0
    prefix = settings.prefix_delegation and limits.supports_prefix_delegation
    each = EXTRA_CARD_IPS_PREFIX if prefix else EXTRA_CARD_IPS
    return each * (len(limits.network_cards) - 1)


def startup_ips_held(
    limits: InstanceTypeLimits, cni_env: Mapping[str, str], max_pods: int | None = None
) -> int:
    """Addresses (primaries included) a brand-new node takes from its subnet before any pod,
    on every network card aws-node manages."""
    return startup_holding(limits, cni_env, max_pods)[0]


def startup_holding(
    limits: InstanceTypeLimits, cni_env: Mapping[str, str], max_pods: int | None = None
) -> tuple[int, int]:
    """What a brand-new node holds before any pod: its addresses (primaries included), and
    how many of them come as /28 prefixes, each of which needs a whole free block."""
    settings = CniSettings.from_env(cni_env)
    if settings.ipv6:
        return 1, 0  # ipamd keeps no IPv4 warm pool in IPv6 mode: the primary address only
    card0 = simulate(limits, settings, (0,), max_pods=max_pods, placement="pack").steps[0]
    extra = extra_cards_ips_held(limits, settings)
    # Each card above 0 holds one /28 and its ENI's primary under prefix delegation.
    prefix_mode = settings.prefix_delegation and limits.supports_prefix_delegation
    extra_prefixes = extra // EXTRA_CARD_IPS_PREFIX if prefix_mode else 0
    return card0.ips_held + extra, card0.prefixes + extra_prefixes
