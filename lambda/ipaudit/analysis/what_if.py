"""What a change would do to a cluster, answered by the capacity model from a report (pure).

`ipaudit what-if` (docs/commands.md "What if") asks it of a stored or a live report. The
change is any of: aws-node settings (the recommender's or the user's, prefix delegation among
them), more pods, more nodes of one type in one node group or NodePool, in that order.

- "now" is what the report says the nodes hold; the model's figure for today's settings is
  `ips_held_model_now`. Settings move existing nodes to the model's settled holding under
  them (`recommend.evaluate`); an address-mode change (prefix delegation) reaches only new
  nodes unless `replace_nodes`.
- Pods are placed where there is room (`capacity.scheduling`): on warm addresses first, then
  on nodes that can obtain more, ENI by ENI in the subnets aws-node would use; what is left is
  pending for want of node room or of an address, each said with its fix.
- New nodes start one by one in the launch subnet with the most free, balanced over the
  group's zones (`capacity.launches`), each part of their start-up pool where aws-node puts it.
- Free /28 blocks after: each 16 single addresses taken spoil at most one block (at best
  packed); addresses given back give no block back (fragmentation).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from ipaudit.analysis.ceilings import UNMODELLED, ran_out_words, solve
from ipaudit.capacity.launches import place, zone_launches
from ipaudit.capacity.nau import crossed_quotas, held_units, pod_units
from ipaudit.capacity.nodes import NodeState, PoolEni, node_state
from ipaudit.capacity.room import Room, free_shares
from ipaudit.capacity.rules import AddressRules
from ipaudit.capacity.scheduling import Placed, place_pods
from ipaudit.cni.cni_settings import CniSettings
from ipaudit.cni.simulator import StepResult
from ipaudit.errors import InputError
from ipaudit.recommend.evaluate import evaluate, node_loads, settled_step
from ipaudit.recommend.recommender import split_by_warm
from ipaudit.report import Ceiling, ClusterReport, Report

PREFIX_DELEGATION = "ENABLE_PREFIX_DELEGATION"


@dataclass(frozen=True)
class Question:
    """The change asked about; every part is optional, none given is no question."""

    settings: Mapping[str, str | None] = field(default_factory=dict)  # None: unset it
    prefix_delegation: bool = False
    add_pods: int = 0
    add_nodes: int = 0
    instance_type: str | None = None
    group: str | None = None
    replace_nodes: bool = False  # an address-mode change reaches the existing nodes too

    @property
    def empty(self) -> bool:
        return not (self.settings or self.prefix_delegation or self.add_pods or self.add_nodes)

    def describe(self) -> str:
        parts = []
        if self.settings:
            changed = " ".join(
                f"{k} unset" if v is None else f"{k}={v}" for k, v in sorted(self.settings.items())
            )
            parts.append(f"aws-node {changed}")
        if self.prefix_delegation:
            parts.append("prefix delegation on")
        if self.add_pods:
            parts.append(f"{self.add_pods} more pods")
        if self.add_nodes:
            parts.append(f"{self.add_nodes} more {self.instance_type} nodes in {self.group}")
        return ", ".join(parts)


@dataclass(frozen=True)
class SubnetAfter:
    subnet_id: str
    az: str
    free_now: int
    free_after: int  # below 0: the change does not fit
    free_prefix_blocks_now: int
    free_prefix_blocks_after: int


@dataclass(frozen=True)
class ZoneAfter:
    az: str
    free_now: int  # its subnets' free addresses, summed
    free_after: int


@dataclass(frozen=True)
class Answer:
    account_id: str
    region: str
    cluster: str
    question: str
    modelled: bool
    note: str = ""  # why the model does not apply, when it does not
    cni_after: dict[str, str] = field(default_factory=dict)  # aws-node's settings after
    ips_held_now: int | None = None  # what the report says the modelled nodes hold
    ips_held_after: int | None = None  # after the change: settings, pods placed, nodes added
    # Pods left without a node or an address by the change (the two causes below, and a
    # settings change's burst the model leaves waiting).
    pending_pods: int = 0
    nodes_started: int = 0
    nodes_not_started: int = 0
    subnets: list[SubnetAfter] = field(default_factory=list)
    zones: list[ZoneAfter] = field(default_factory=list)
    ceilings: list[Ceiling] = field(default_factory=list)  # after the change
    first_zone_out: str | None = None
    fits: bool = True
    why_not: list[str] = field(default_factory=list)
    line: str = ""  # the answer in one line
    ips_held_model_now: int | None = None  # the model's settled holding under today's settings
    pods_placed: int = 0  # of the pods added, those that got a node and an address
    pending_no_node_room: int = 0  # no node with a pod slot left: add nodes
    pending_no_address: int = 0  # nodes have slots but no address to be had: subnet room
    # The VPC's Network Address Usage units now and after the change (capacity/nau.py), its
    # quota, and with its same-region peers after; None: not counted in the report.
    vpc_units_now: int | None = None
    vpc_units_after: int | None = None
    vpc_units_quota: int | None = None
    peered_units_after: int | None = None


def answer_report(report: Report, question: Question, cluster: str | None = None) -> list[Answer]:
    """The answer for every cluster the question is about: the one named, the one holding the
    group, or (settings alone) every cluster."""
    chosen = [c for c in report.clusters if cluster is None or c.name == cluster]
    if cluster is not None and not chosen:
        names = ", ".join(sorted(c.name for c in report.clusters)) or "none"
        raise InputError(
            f"--cluster: no cluster named {cluster!r} in the report (clusters: {names})"
        )
    if question.group is not None:
        chosen = [c for c in chosen if any(g.group == question.group for g in c.ceilings)]
        if not chosen:
            groups = sorted({g.group for c in report.clusters for g in c.ceilings})
            raise InputError(
                f"--group: no node group or NodePool named {question.group!r}"
                f"{'' if cluster is None else f' in cluster {cluster}'} "
                f"(groups: {', '.join(groups) or 'none'})"
            )
        if len(chosen) > 1:
            raise InputError(
                f"--group: {question.group!r} is in several clusters "
                f"({', '.join(c.name for c in chosen)}): name one with --cluster"
            )
    if question.add_pods and len(chosen) != 1:
        raise InputError("--add-pods: name the cluster they run in with --cluster")
    return [answer(c, question) for c in chosen]


def answer(cluster: ClusterReport, question: Question) -> Answer:
    base = Answer(cluster.account_id, cluster.region, cluster.name, question.describe(), True)
    why = _unmodelled(cluster)
    if why is not None:
        return replace(base, modelled=False, note=why, line=f"{cluster.name}: {why}")
    assert cluster.cni is not None
    env_after = _env_after(cluster.cni, question)
    current, after_settings = CniSettings.from_env(cluster.cni), _settings(env_after)
    modelled = replace(cluster, nodes=[n for n in cluster.nodes if n.aws_node])
    # An address-mode change reaches new nodes; existing ones only when they are replaced.
    mode_change = after_settings.prefix_delegation != current.prefix_delegation
    keep_mode = mode_change and not question.replace_nodes
    existing = (
        replace(after_settings, prefix_delegation=current.prefix_delegation)
        if (keep_mode)
        else after_settings
    )
    shares = free_shares(modelled)
    loads = node_loads(modelled, modelled.instance_types, current, free=shares)
    model_now = evaluate(current, loads)
    settled = evaluate(existing, loads)
    held_now = sum(n.ips_held for n in modelled.nodes if n.pods is not None)
    room = Room.of(cluster)
    by_id = {s.subnet_id: s for s in cluster.subnets}
    # Settings the existing nodes run under after the change differ from today's.
    changed_settings = existing != current
    held_in: Counter[tuple[str, ...]] = Counter()
    for load in loads:
        held_in[load.pool_subnet] += load.ips_held
    for pool in sorted(set(held_in) | set(settled.held_by_subnet)):
        if not changed_settings:
            break  # no settings asked about: the nodes hold what the report says
        taken = settled.held_by_subnet.get(pool, 0) - held_in.get(pool, 0)
        members = [by_id[s] for s in pool if s in by_id]
        for subnet_id, back in split_by_warm(-taken, members).items():
            room.take(subnet_id, -back)
    # Settings move every node to what ipamd settles on from its ENIs as they are (the CNI
    # simulation); without a settings change the nodes hold what the report says.
    ips_after = settled.ips_held if changed_settings else held_now
    units_delta = settled.units - model_now.units if changed_settings else 0
    pods = Placed(0, 0, 0, ())
    after_nodes: dict[str, NodeState] = {}
    if question.add_pods:
        rules = AddressRules.of(cluster, existing)
        known = [
            n
            for n in modelled.nodes
            if n.pods is not None and n.instance_type in modelled.instance_types
        ]
        states = [node_state(n, modelled.instance_types[n.instance_type], rules) for n in known]
        limits = [modelled.instance_types[n.instance_type] for n in known]
        if changed_settings:
            for state, load in zip(states, loads, strict=True):
                _settled_to(state, settled_step(load, existing))
        before = _charged(room)
        pods = place_pods(states, limits, question.add_pods, room, rules)
        after_nodes = {n.instance_id: state for n, state in zip(known, states, strict=True)}
        ips_after += before - _charged(room)
        units_delta += pod_units(existing.prefix_delegation, before - _charged(room))
    started = not_started = 0
    first_out: str | None = None
    counts: dict[str, int] = {}
    out_words = ""
    if question.add_nodes:
        assert question.group is not None and question.instance_type is not None
        before = _charged(room)
        started, first_out, out_words = _add_nodes(cluster, question, env_after, room)
        not_started = question.add_nodes - started
        ips_after += before - _charged(room)
        # A new node counted with its start-up ENIs' addresses, one ENI each (a floor).
        units_delta += held_units(
            after_settings.prefix_delegation, before - _charged(room), started
        )
        group = next(c for c in cluster.ceilings if c.group == question.group)
        counts[group.group] = group.current_nodes + started
    free = {s.subnet_id: room.free.get(s.subnet_id, 0) for s in cluster.subnets}
    blocks = {s.subnet_id: room.blocks.get(s.subnet_id, 0) for s in cluster.subnets}
    # The room holds this cluster's share: what other clusters hold back is added again.
    shares_now = Room.of(cluster)
    for subnet in cluster.subnets:
        free[subnet.subnet_id] += subnet.free - shares_now.free.get(subnet.subnet_id, 0)
        blocks[subnet.subnet_id] += subnet.free_prefix_blocks - shares_now.blocks.get(
            subnet.subnet_id, 0
        )
    ceilings = solve(
        cluster, free=free, blocks=blocks, cni=env_after, current=counts, nodes=after_nodes
    )
    subnets = [
        SubnetAfter(
            s.subnet_id,
            s.az,
            s.free,
            free[s.subnet_id],
            s.free_prefix_blocks,
            blocks[s.subnet_id],
        )
        for s in cluster.subnets
    ]
    zones = _zones(subnets)
    below = sorted((s for s in subnets if s.free_after < 0), key=lambda s: (s.free_after, s.az))
    if first_out is None and below:
        first_out = below[0].az
    why_not = []
    if below:
        why_not.append(
            "below 0 free: "
            + ", ".join(f"{s.subnet_id} ({s.az}) {s.free_now} -> {s.free_after}" for s in below)
        )
    if pods.no_node_room:
        why_not.append(
            f"{pods.no_node_room} pods pending with no node room (max pods or ENI slots "
            f"reached): add nodes"
        )
    if pods.no_address:
        why_not.append(
            f"{pods.no_address} pods pending with no address to be had: more subnet room"
        )
    # What the model leaves pending today (a burst on a full subnet) is not the change's doing.
    burst_pending = max(0, settled.pending - model_now.pending) if changed_settings else 0
    if burst_pending:
        why_not.append(f"{burst_pending} more pods left without an address")
    if not_started:
        why_not.append(f"{not_started} of the {question.add_nodes} new nodes cannot start")
    before_sev = {c.group: c.severity for c in cluster.ceilings}
    critical = [
        c.group
        for c in ceilings
        if c.severity == "CRITICAL" and before_sev.get(c.group) != "CRITICAL"
    ]
    if critical:
        why_not.append(f"could no longer start a single node: {', '.join(critical)}")
    nau = cluster.network_address_usage
    units_after = peered_after = None
    if nau is not None:
        units_after = nau.units + units_delta
        why_not += crossed_quotas(nau, units_delta)
        if nau.peered_units is not None:
            peered_after = nau.peered_units + units_delta
    result = replace(
        base,
        cni_after=env_after,
        ips_held_now=held_now,
        ips_held_model_now=model_now.ips_held,
        ips_held_after=ips_after,
        pending_pods=pods.no_node_room + pods.no_address + burst_pending,
        pods_placed=pods.placed,
        pending_no_node_room=pods.no_node_room,
        pending_no_address=pods.no_address,
        nodes_started=started,
        nodes_not_started=not_started,
        subnets=subnets,
        zones=zones,
        ceilings=ceilings,
        first_zone_out=first_out,
        fits=not why_not,
        why_not=why_not,
        vpc_units_now=None if nau is None else nau.units,
        vpc_units_after=units_after,
        vpc_units_quota=None if nau is None else nau.quota,
        peered_units_after=peered_after,
    )
    return replace(result, line=_line(result, question, out_words))


def _settled_to(state: NodeState, step: StepResult) -> None:
    """The node's pool ENIs as the settings settle them (in device order), before more pods.
    ENIs the settings add are where its next ENI goes (the room was charged per pool)."""
    offset = 0 if state.enis and state.enis[0].pods else 1
    pool = [e for e in state.enis if e.pods]
    values = list(step.layout[offset:])
    for eni, held in zip(pool, values, strict=False):
        eni.held = held
    for held in values[len(pool) :]:
        if state.slots == 0 or not state.new_eni_subnets:
            break
        state.enis.append(PoolEni(state.new_eni_subnets[0], held, pods=True))
        state.slots -= 1
    state.warm = step.warm_ips


def _charged(room: Room) -> int:
    return sum(room.free.values())


def _unmodelled(cluster: ClusterReport) -> str | None:
    if cluster.network_mode != "vpc-cni":
        why = UNMODELLED.get(cluster.network_mode, cluster.network_mode)
        return f"not modelled: {why}"
    if cluster.cni is None:
        return "not modelled: aws-node's settings could not be read"
    if not any(n.aws_node and n.pods is not None for n in cluster.nodes):
        return "not modelled: no node with known pods and aws-node to simulate"
    try:
        CniSettings.from_env(cluster.cni)
    except InputError as error:
        return f"not modelled: aws-node's {error}"
    return None


def _env_after(env: Mapping[str, str], question: Question) -> dict[str, str]:
    after = dict(env)
    for name, value in question.settings.items():
        if value is None:
            after.pop(name, None)
        else:
            after[name] = value
    if question.prefix_delegation:
        after[PREFIX_DELEGATION] = "true"
    return after


def _settings(env: Mapping[str, str]) -> CniSettings:
    try:
        return CniSettings.from_env(env)
    except InputError as error:
        raise InputError(f"--settings: {error}") from None


def _add_nodes(
    cluster: ClusterReport, question: Question, env_after: Mapping[str, str], room: Room
) -> tuple[int, str | None, str]:
    """Start the new nodes, charging `room`: how many start, the zone that runs out first and
    the words for it."""
    instance_type = question.instance_type or ""
    limits = cluster.instance_types.get(instance_type)
    if limits is None:
        known = ", ".join(sorted(cluster.instance_types)) or "none"
        raise InputError(
            f"--type: {instance_type} is not among the report's instance types, whose limits "
            f"DescribeInstanceTypes gave (known: {known}); audit a cluster running it"
        )
    group = next(c for c in cluster.ceilings if c.group == question.group)
    if not group.zones:
        raise InputError(f"--group: {question.group}: none of its subnets is known")
    rules = AddressRules.of(cluster, _settings(env_after))
    caps = {
        zone.az: sum(
            zone_launches(
                limits, rules, zone.launch_subnet_ids, room.copy(), question.add_nodes
            ).values()
        )
        for zone in group.zones
    }
    placed, ran_out = place(caps, question.add_nodes)
    for zone in group.zones:
        zone_launches(limits, rules, zone.launch_subnet_ids, room, placed[zone.az])
    return sum(placed.values()), ran_out[0] if ran_out else None, ran_out_words(caps, ran_out)


def _zones(subnets: Sequence[SubnetAfter]) -> list[ZoneAfter]:
    now: Counter[str] = Counter()
    after: Counter[str] = Counter()
    for subnet in subnets:
        now[subnet.az] += subnet.free_now
        after[subnet.az] += subnet.free_after
    return [ZoneAfter(az, now[az], after[az]) for az in sorted(now)]


def _line(result: Answer, question: Question, out_words: str) -> str:
    head = f"what if: {result.question} in {result.cluster}"
    if question.add_nodes and not (
        question.settings or question.prefix_delegation or question.add_pods
    ):
        head = f"what if: {result.question}"
    parts = []
    if question.add_nodes:
        parts.append(f"{result.nodes_started} of {question.add_nodes} start")
        if out_words:
            parts.append(out_words)
    if question.add_pods:
        parts.append(f"{result.pods_placed} of {question.add_pods} pods placed")
    if result.ips_held_now is not None:
        parts.append(f"nodes hold {result.ips_held_after} addresses (now {result.ips_held_now})")
    if result.vpc_units_now is not None and result.vpc_units_after != result.vpc_units_now:
        parts.append(
            f"VPC Network Address Usage {result.vpc_units_after:,} units of "
            f"{result.vpc_units_quota:,} (now {result.vpc_units_now:,})"
        )
    if result.first_zone_out and not question.add_nodes:
        parts.append(f"{result.first_zone_out} runs out first")
    parts.append("fits" if result.fits else "does not fit: " + "; ".join(result.why_not))
    return f"{head}: {', '.join(parts)}"
