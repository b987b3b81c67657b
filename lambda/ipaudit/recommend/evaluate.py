"""What a set of aws-node settings would do to a cluster's nodes, by simulating every node.

Two runs per node, both with pods spread evenly over its ENIs or prefixes (the realistic worst
case) and bounded by what the node's subnet can still give it:
- the node as it is (its ENIs and addresses, its observed pods) under the settings: the
  addresses it holds once ipamd has settled. A change of address mode (prefix delegation on or
  off) only reaches new nodes, so those run as brand-new nodes.
- a brand-new node receiving its observed pods at once: the price of the settings on a burst,
  in EC2 calls and seconds until every pod has an address.
Simulations are memoized by (limits, settings, pods, ...), so nodes alike cost one run.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from ipaudit.analysis.pool_subnets import discovery_pools, primary_excluded
from ipaudit.capacity.nau import step_units
from ipaudit.capacity.nodes import node_state
from ipaudit.capacity.room import Room
from ipaudit.capacity.rules import AddressRules
from ipaudit.cni.cni_settings import CniSettings
from ipaudit.cni.kubelet_max_pods import max_pods as default_max_pods
from ipaudit.cni.simulator import StepResult, extra_cards_ips_held, simulate
from ipaudit.report import ClusterReport, NodeReport
from ipaudit.snapshot import InstanceTypeLimits

PLACEMENT = "spread"
IPS_PER_PREFIX = 16


@dataclass(frozen=True)
class NodeLoad:
    limits: InstanceTypeLimits
    pods: int
    max_pods: int
    max_ips_held: int | None  # what it holds plus its subnet's free addresses
    layout: tuple[int, ...]  # per ENI: secondary addresses, or prefixes in prefix mode
    prefix_mode: bool  # how the node's pool is held now
    burst_pods: int  # the burst a new node must absorb: its pods, scaled to the cluster's peak
    # The subnets its pods take addresses from: its own (or its ENIConfig's), or, when subnet
    # discovery spreads its zone's pods over several subnets, that whole pool, by id.
    pool_subnet: tuple[str, ...] = ()
    ips_held: int = 0  # what it holds now, as EC2 reports it
    # No pod address on its primary ENI: custom networking, or its own subnet tagged
    # `kubernetes.io/role/cni=0` under subnet discovery (v1.22+).
    skip_primary: bool = False
    other_cards_ips: int = 0  # held on network cards above 0, which ipamd holds at 1/1


@dataclass(frozen=True)
class Outcome:
    """The cluster's nodes under one set of settings."""

    settings: CniSettings
    ips_held: int  # once ipamd has settled on the nodes as they are
    warm_ips: int
    pending: int  # pods left without an address, settled or on a burst
    burst_ips_held: int
    burst_prefixes: int
    ec2_calls: int  # on the burst
    pod_starts: int
    burst_seconds: int | None  # the slowest node to give every pod an address; None: never
    # The same per pool subnet: what its nodes hold settled, on a burst, and the burst's /28s.
    held_by_subnet: Mapping[tuple[str, ...], int] = field(default_factory=dict)
    burst_held_by_subnet: Mapping[tuple[str, ...], int] = field(default_factory=dict)
    burst_prefixes_by_subnet: Mapping[tuple[str, ...], int] = field(default_factory=dict)
    # Network Address Usage units the nodes take once settled (capacity/nau.py): an address or
    # a /28 prefix one each, an ENI beyond a node's first one more.
    units: int = 0

    @property
    def calls_per_pod_start(self) -> float:
        return self.ec2_calls / self.pod_starts if self.pod_starts else 0.0


def pool_subnet(
    node: NodeReport, zone_pools: Mapping[str, Sequence[str]] | None = None
) -> tuple[str, ...]:
    """Where the node's pods take addresses: its pool subnet (its own when not known), or,
    when subnet discovery spreads its zone's pods over several subnets, that whole pool."""
    own = node.pool_subnet_id or node.subnet_id
    for members in (zone_pools or {}).values():
        if own in members or node.subnet_id in members:
            return tuple(members)
    return (own,)


def node_loads(
    cluster: ClusterReport,
    limits: Mapping[str, InstanceTypeLimits],
    current: CniSettings,
    peak_pods: int | None = None,
    free: Mapping[str, int] | None = None,
) -> list[NodeLoad]:
    """The nodes the model can run: a known type and a known pod count.

    `peak_pods`, the cluster's busiest recent pod count, scales every node's burst: a setting
    must keep up with the peak the cluster has seen, not only with today. Each node is bounded
    by what its pool subnet has free (`free`, by subnet; default: the cluster's subnets' own).
    """
    if free is None:
        free = {subnet.subnet_id: subnet.free for subnet in cluster.subnets}
    zone_pools = {
        zone: sorted(s.subnet_id for s in subnets)
        for zone, subnets in discovery_pools(cluster).items()
    }
    rules = AddressRules.of(cluster, current)
    obtainable: dict[tuple[object, ...], int | None] = {}
    free_room = Room(free, {s: v // IPS_PER_PREFIX for s, v in free.items()})
    free_room.blocks |= {
        s.subnet_id: min(free_room.blocks.get(s.subnet_id, 0), s.free_prefix_blocks)
        for s in cluster.subnets
    }
    alike: dict[NodeLoad, NodeLoad] = {}
    loaded: dict[tuple[object, ...], NodeLoad] = {}
    scale = 1.0
    if peak_pods is not None and cluster.pods and peak_pods > cluster.pods:
        scale = peak_pods / cluster.pods
    loads = []
    for node in cluster.nodes:
        node_limits = limits.get(node.instance_type)
        if node_limits is None or node.pods is None:
            continue
        pool = pool_subnet(node, zone_pools)
        # Nodes of one shape (type, ENIs where they are, candidates) can obtain the same.
        shape = (
            node.instance_type,
            node.subnet_id,
            node.enis,
            node.secondary_ips,
            tuple(node.pool_subnet_ids),
            # What node_state reads of each ENI: where it is and what it holds; not its id,
            # which no two nodes share.
            tuple(
                (
                    i.subnet_id,
                    i.device_index,
                    i.card,
                    i.interface_type,
                    i.secondary_ips,
                    i.prefixes,
                    i.excluded,
                )
                for i in node.interfaces
            ),
            tuple(node.network_cards),
        )
        # A node of a shape already seen, with the same pods and holdings, loads the same.
        seen = (shape, pool, node.pods, node.max_pods, node.branch_enis, node.ips_held)
        if seen in loaded:
            loads.append(loaded[seen])
            continue
        if shape not in obtainable:
            obtainable[shape] = _obtainable(node, node_limits, rules, free_room)
        room = obtainable[shape]
        prefix_mode = current.prefix_delegation and node_limits.supports_prefix_delegation
        node_max_pods = node.max_pods or default_max_pods(node_limits)
        # Discovery's exclusion of the node's own subnet works like custom networking.
        skip_primary = cluster.subnet_discovery and primary_excluded(node)
        other_cards = sum(c.ips_held for c in node.network_cards if c.card > 0)
        # Pods on branch ENIs (security groups for pods) take no address of aws-node's pool.
        branch = min(node.branch_enis, node.pods)
        load = NodeLoad(
            limits=node_limits,
            pods=node.pods - branch,
            max_pods=node_max_pods - branch,
            max_ips_held=None if room is None else node.ips_held - other_cards + room,
            layout=_layout(node, node_limits, current, prefix_mode, skip_primary),
            prefix_mode=prefix_mode,
            burst_pods=min(node_max_pods, math.ceil(node.pods * scale)),
            pool_subnet=pool,
            ips_held=node.ips_held,
            skip_primary=skip_primary,
            other_cards_ips=other_cards,
        )
        # Alike loads as one object: evaluate groups them by identity, without comparing.
        loaded[seen] = alike.setdefault(load, load)
        loads.append(loaded[seen])
    return loads


def evaluate(settings: CniSettings, loads: Sequence[NodeLoad]) -> Outcome:
    held = warm = pending = burst_held = burst_prefixes = calls = starts = units = 0
    burst_seconds: int | None = 0
    by_subnet: Counter[tuple[str, ...]] = Counter()
    burst_by_subnet: Counter[tuple[str, ...]] = Counter()
    prefixes_by_subnet: Counter[tuple[str, ...]] = Counter()
    # Nodes of one shape (type, ENI layout, pods, bounds, pool) are modelled once and counted
    # as many times as there are: a 10,000-node cluster has a few hundred shapes. node_loads
    # hands alike loads over as one object, so they group by identity (no hashing of fields).
    by_id = {id(load): load for load in loads}
    for key, alike in Counter(map(id, loads)).items():
        load = by_id[key]
        settled = settled_step(load, settings)
        burst = _run(load, settings, None, load.burst_pods)
        # Cards above 0 hold what ipamd's forced 1/1 gives them, whatever the settings.
        settled_held = (settled.ips_held + load.other_cards_ips) * alike
        burst_ips = (burst.ips_held + extra_cards_ips_held(load.limits, settings)) * alike
        held += settled_held
        units += (step_units(settled, _prefix_mode(load, settings)) + load.other_cards_ips) * alike
        warm += settled.warm_ips * alike
        pending += max(settled.pending, burst.pending) * alike
        burst_held += burst_ips
        burst_prefixes += burst.prefixes * alike
        by_subnet[load.pool_subnet] += settled_held
        burst_by_subnet[load.pool_subnet] += burst_ips
        prefixes_by_subnet[load.pool_subnet] += burst.prefixes * alike
        calls += burst.ec2_calls * alike
        starts += burst.pods * alike
        if burst_seconds is not None:
            took = burst.seconds_to_place
            burst_seconds = None if took is None else max(burst_seconds, took)
    return Outcome(
        settings,
        held,
        warm,
        pending,
        burst_held,
        burst_prefixes,
        calls,
        starts,
        burst_seconds,
        dict(by_subnet),
        dict(burst_by_subnet),
        dict(prefixes_by_subnet),
        units,
    )


def _prefix_mode(load: NodeLoad, settings: CniSettings) -> bool:
    return settings.prefix_delegation and load.limits.supports_prefix_delegation


def settled_step(load: NodeLoad, settings: CniSettings) -> StepResult:
    """The node as ipamd settles it under `settings` from its ENIs as they are (a brand-new
    node when the address mode changes), card 0 only."""
    start = load.layout if _prefix_mode(load, settings) == load.prefix_mode else None
    return _run(load, settings, start, load.pods)


def _obtainable(
    node: NodeReport, limits: InstanceTypeLimits, rules: AddressRules, room: Room
) -> int | None:
    """Addresses the node could still add, ENI by ENI where aws-node would take them (the
    capacity model): its ENIs' own subnets, then new ENIs in its candidate subnets. Each node
    is counted against the whole room, as if alone (the recommender's bound per node)."""
    if not any(s in room.free for s in (*node.pool_subnet_ids, node.subnet_id)):
        return None
    state = node_state(node, limits, rules)
    trial = Room({}, {})
    trial.free, trial.blocks = dict(room.free), dict(room.blocks)  # only what it touches
    start = sum(trial.free.values())
    state.grow(trial, 10**6, rules)
    return start - sum(trial.free.values())


def _run(
    load: NodeLoad, settings: CniSettings, start: tuple[int, ...] | None, pods: int
) -> StepResult:
    if load.skip_primary and not settings.custom_networking:
        settings = replace(settings, custom_networking=True)
    return simulate(
        load.limits,
        settings,
        (pods,),
        max_pods=load.max_pods,
        placement=PLACEMENT,
        max_ips_held=load.max_ips_held,
        start=start,
    ).steps[0]


def _layout(
    node: NodeReport,
    limits: InstanceTypeLimits,
    current: CniSettings,
    prefix_mode: bool,
    skip_primary: bool,
) -> tuple[int, ...]:
    """The node's pool as ipamd fills it: ENIs in order (not the primary under custom
    networking), each up to its limit. A trunk ENI (security groups for pods) holds none."""
    per_eni = limits.ipv4_per_eni - 1
    # The model runs card 0; the other cards' addresses are held apart (`other_cards_ips`).
    others = [c for c in node.network_cards if c.card > 0]
    enis = node.enis - sum(c.enis for c in others)
    secondary = node.secondary_ips - sum(c.ips_held - c.enis for c in others)
    left = secondary // IPS_PER_PREFIX if prefix_mode else secondary
    trunk = int(current.pod_eni and limits.takes_trunk_eni and enis > 1)
    layout = []
    for device in range(max(enis - trunk, 1)):
        primary_unused = current.custom_networking or skip_primary
        take = 0 if primary_unused and device == 0 else min(per_eni, left)
        layout.append(take)
        left -= take
    return tuple(layout)
