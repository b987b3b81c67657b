"""What a new node takes, and where, before any pod (pure).

A node is launched into one subnet (`launch`). There it takes its own address (the primary
ENI's), the primary ENI's warm addresses or prefixes unless custom networking is on or
discovery excludes the launch subnet, and, under security groups for pods, its trunk ENI's
address (in the ENIConfig's subnet under custom networking). Every further ENI its start-up
pool needs goes where a new ENI goes (`NodeState.grow`); ENIs on network cards above 0
(ENABLE_MULTI_NIC) hold one address, or one /28, each. How much the pool holds is the CNI
simulation of a brand-new node with no pod (`cni.simulate`).

A node counts as started only when all of that fits, each part in one subnet: a launch subnet
with 7 free does not start a node whose primary ENI takes 10 there.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ipaudit.capacity.nodes import NodeState, PoolEni
from ipaudit.capacity.room import Room
from ipaudit.capacity.rules import AddressRules
from ipaudit.cni.simulator import simulate
from ipaudit.snapshot import InstanceTypeLimits


@dataclass(frozen=True)
class StartupNeed:
    """A new node's start-up pool, before it is placed."""

    layout: tuple[int, ...]  # per pool ENI: units it holds (the primary's first)
    primary_pods: bool
    trunk: bool
    extra_cards: int  # ENIs on network cards above 0, one unit each

    def addresses(self, unit: int) -> int:
        """Every address it holds: each ENI's own and its units, the trunk's."""
        return (
            sum(1 + held * unit for held in self.layout)
            + int(self.trunk)
            + self.extra_cards * (1 + unit)
        )


def startup_need(
    limits: InstanceTypeLimits, rules: AddressRules, launch: str, max_pods: int | None = None
) -> StartupNeed:
    primary_pods = rules.primary_gives_pods(launch)
    settings = rules.settings
    if not primary_pods and not settings.custom_networking:
        settings = replace(settings, custom_networking=True)  # no pod address on the primary
    step = simulate(limits, settings, (0,), max_pods=max_pods, placement="pack").steps[0]
    type_limits = rules.limits(limits)
    multi = settings.multi_nic and len(limits.network_cards) > 1
    extra = len(limits.network_cards) - 1 if multi else 0
    return StartupNeed(step.layout or (0,), primary_pods, type_limits.trunk, extra)


def start_node(
    limits: InstanceTypeLimits,
    rules: AddressRules,
    launch: str,
    room: Room,
    need: StartupNeed | None = None,
) -> NodeState | None:
    """Start one node in `launch`, charging `room`; None (and `room` as it was) when its
    start-up pool does not fit where aws-node would put it."""
    need = need or startup_need(limits, rules, launch)
    type_limits = rules.limits(limits)
    unit, prefixes = type_limits.unit, int(type_limits.prefix_mode)
    trial = room.copy()
    primary = need.layout[0] if need.primary_pods else 0
    if not trial.can_hold(launch, 1 + primary * unit, primary * prefixes):
        return None
    node = NodeState(
        name="new",
        launch=launch,
        limits=type_limits,
        enis=[PoolEni(launch, primary, need.primary_pods)],
        slots=max(0, type_limits.max_enis - 1 - int(need.trunk)),
        new_eni_subnets=rules.new_eni_subnets(launch),
    )
    node.charge(trial, launch, 1 + primary * unit, primary * prefixes)
    if need.trunk:
        trunk_in = rules.trunk_subnet(launch)
        if not trial.can_hold(trunk_in, 1):
            return None
        node.charge(trial, trunk_in, 1, 0)
    for held in need.layout[1:]:
        # Each further ENI as ipamd creates it at start-up: with exactly what it holds.
        subnet_id = trial.most_free(node.new_eni_subnets, 1 + held * unit, held * prefixes)
        if subnet_id is None or node.slots == 0:
            return None
        node.charge(trial, subnet_id, 1 + held * unit, held * prefixes)
        node.enis.append(PoolEni(subnet_id, held, True))
        node.slots -= 1
    for _ in range(need.extra_cards):
        subnet_id = trial.most_free(node.new_eni_subnets, 1 + unit, prefixes)
        if subnet_id is None:
            return None
        node.charge(trial, subnet_id, 1 + unit, prefixes)
    room.free, room.blocks = trial.free, trial.blocks
    node.warm = sum(eni.held for eni in node.enis if eni.pods) * unit
    return node


def launch_need(limits: InstanceTypeLimits, rules: AddressRules, launch: str) -> tuple[int, int]:
    """What a new node launched in `launch` takes there (its own address, its primary ENI's
    pool unless that gives no pod address, its trunk) and what it takes elsewhere."""
    need = startup_need(limits, rules, launch)
    unit = rules.limits(limits).unit
    here = 1 + (need.layout[0] * unit if need.primary_pods else 0)
    here += int(need.trunk and rules.trunk_subnet(launch) == launch)
    return here, need.addresses(unit) - here


def new_eni_need(limits: InstanceTypeLimits, rules: AddressRules) -> int:
    """Addresses one more ENI takes in one subnet: its own and what ipamd creates it with."""
    type_limits = rules.limits(limits)
    return 1 + rules.new_eni_request(type_limits.per_eni) * type_limits.unit
