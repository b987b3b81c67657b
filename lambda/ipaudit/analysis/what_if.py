"""What a change would do to a cluster, answered by the CNI model from a report (pure).

`ipaudit what-if` (README "What if") asks it of a stored or a live report. The change is any
of: aws-node settings (the recommender's or the user's, prefix delegation among them), more
pods spread over the cluster's nodes, more nodes of one type in one node group or NodePool.
They apply in that order. The answer: the addresses the nodes hold now and after (the model's
`recommend.evaluate` over `node_loads`, the recommender's own inputs, so the answer is the
model's simulation), each subnet's and zone's free addresses after, the scale ceilings after,
and the first zone to run out.

- Settings and pods: each pool's change in held addresses is taken from (or given back to) its
  subnets as the recommender splits it (`split_by_warm`).
- New pods are spread evenly over the modelled nodes, the odd ones to the first in report order;
  kubelet refuses what its max pods does not admit (pending).
- New nodes are spread evenly over the group's zones, a zone that cannot start one skipped
  (`ceilings.place`); each holds the model's start-up addresses for its type, charged where
  they land, in the subnet with the most free addresses (of /28 blocks for prefixes).
- Free /28 blocks after: each 16 addresses taken cost at least one block (at best packed);
  addresses given back give no block back (fragmentation).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from ipaudit.analysis.ceilings import (
    IPS_PER_PREFIX,
    UNMODELLED,
    place,
    ran_out_words,
    solve,
    startup_env,
)
from ipaudit.cni import startup_holding
from ipaudit.cni.cni_settings import CniSettings
from ipaudit.errors import InputError
from ipaudit.recommend.evaluate import NodeLoad, evaluate, node_loads, pool_members
from ipaudit.recommend.recommender import free_shares, split_by_warm
from ipaudit.report import Ceiling, CeilingZone, ClusterReport, Report

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
    ips_held_now: int | None = None  # the modelled nodes, simulated under today's settings
    ips_held_after: int | None = None
    # Pods the model leaves without an address (or kubelet refuses) beyond those it leaves
    # so under today's settings and pods.
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
    shares = free_shares(modelled)
    loads = node_loads(modelled, modelled.instance_types, current, free=shares)
    now = evaluate(current, loads)
    after = evaluate(after_settings, with_pods(loads, question.add_pods))
    free = {s.subnet_id: s.free for s in cluster.subnets}
    blocks = {s.subnet_id: s.free_prefix_blocks for s in cluster.subnets}
    by_id = {s.subnet_id: s for s in cluster.subnets}
    for pool in sorted(set(now.held_by_subnet) | set(after.held_by_subnet)):
        taken = after.held_by_subnet.get(pool, 0) - now.held_by_subnet.get(pool, 0)
        members = [by_id[s] for s in pool_members(pool) if s in by_id]
        for subnet_id, back in split_by_warm(-taken, members).items():
            _take(free, blocks, subnet_id, -back, prefixes=0)
    ips_after = after.ips_held
    started = not_started = 0
    first_out: str | None = None
    counts: dict[str, int] = {}
    out_words = ""
    if question.add_nodes:
        assert question.group is not None and question.instance_type is not None
        started, first_out, out_words, held = _add_nodes(cluster, question, env_after, free, blocks)
        not_started = question.add_nodes - started
        ips_after += held
        group = next(c for c in cluster.ceilings if c.group == question.group)
        counts[group.group] = group.current_nodes + started
    ceilings = solve(cluster, free=free, blocks=blocks, cni=env_after, current=counts)
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
    # What the model leaves pending today (a burst on a full subnet) is not the change's doing.
    pending = max(0, after.pending - now.pending)
    if pending:
        why_not.append(f"{pending} more pods left without an address")
    if not_started:
        why_not.append(f"{not_started} of the {question.add_nodes} new nodes cannot start")
    before = {c.group: c.severity for c in cluster.ceilings}
    critical = [
        c.group for c in ceilings if c.severity == "CRITICAL" and before.get(c.group) != "CRITICAL"
    ]
    if critical:
        why_not.append(f"could no longer start a single node: {', '.join(critical)}")
    result = replace(
        base,
        cni_after=env_after,
        ips_held_now=now.ips_held,
        ips_held_after=ips_after,
        pending_pods=pending,
        nodes_started=started,
        nodes_not_started=not_started,
        subnets=subnets,
        zones=zones,
        ceilings=ceilings,
        first_zone_out=first_out,
        fits=not why_not,
        why_not=why_not,
    )
    return replace(result, line=_line(result, question, out_words))


def with_pods(loads: Sequence[NodeLoad], pods: int) -> list[NodeLoad]:
    """`pods` more pods spread evenly over the nodes, the odd ones to the first."""
    if not pods or not loads:
        return list(loads)
    each, odd = divmod(pods, len(loads))
    spread = []
    for index, load in enumerate(loads):
        wanted = load.pods + each + int(index < odd)
        spread.append(replace(load, pods=wanted, burst_pods=min(load.max_pods, wanted)))
    return spread


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


def _take(
    free: dict[str, int], blocks: dict[str, int], subnet_id: str, taken: int, *, prefixes: int
) -> None:
    """`taken` addresses (of which `prefixes` whole /28s) out of a subnet; negative: back.

    Single addresses use the free addresses outside whole free blocks first (at best), then
    spoil a block per 16; addresses given back give no block back."""
    if taken <= 0:
        free[subnet_id] = free.get(subnet_id, 0) - taken
        return
    whole = blocks.get(subnet_id, 0)
    loose = max(0, free.get(subnet_id, 0) - IPS_PER_PREFIX * whole)
    singles = max(0, taken - IPS_PER_PREFIX * prefixes)
    spoiled = max(0, math.ceil((singles - loose) / IPS_PER_PREFIX))
    free[subnet_id] = free.get(subnet_id, 0) - taken
    blocks[subnet_id] = max(0, whole - prefixes - spoiled)


def _add_nodes(
    cluster: ClusterReport,
    question: Question,
    env_after: Mapping[str, str],
    free: dict[str, int],
    blocks: dict[str, int],
) -> tuple[int, str | None, str, int]:
    """Start the new nodes: how many start, the zone that runs out first and the words for it,
    and the addresses they hold. `free` and `blocks` are charged."""
    instance_type = question.instance_type or ""
    limits = cluster.instance_types.get(instance_type)
    if limits is None:
        known = ", ".join(sorted(cluster.instance_types)) or "none"
        raise InputError(
            f"--type: {instance_type} is not among the report's instance types, whose limits "
            f"DescribeInstanceTypes gave (known: {known}); audit a cluster running it"
        )
    # The group's zones counted for this type; the other groups still take their shares.
    forced = replace(
        cluster,
        cni=dict(env_after),
        ceilings=[
            replace(c, instance_types=[instance_type]) if c.group == question.group else c
            for c in cluster.ceilings
        ],
    )
    solved = next(c for c in solve(forced, free=free, blocks=blocks) if c.group == question.group)
    if not solved.modelled:
        raise InputError(f"--group: {question.group}: {solved.note}")
    need, _ = startup_holding(limits, startup_env(forced) or env_after)
    caps = {zone.az: zone.nodes_possible for zone in solved.zones}
    placed, ran_out = place(caps, question.add_nodes)
    for zone in solved.zones:
        for _ in range(placed[zone.az]):
            _charge(zone, free, blocks)
    started = sum(placed.values())
    return started, ran_out[0] if ran_out else None, ran_out_words(caps, ran_out), started * need


def _charge(zone: CeilingZone, free: dict[str, int], blocks: dict[str, int]) -> None:
    """One new node's start-up addresses, where they land: its primary (or all of them) in
    the zone's launch subnet with the most free, its pods' in the pool subnet with the most."""
    launch = max(zone.launch_subnet_ids, key=lambda s: (free.get(s, 0), s))
    pods_in = zone.pool_subnet_ids or []
    launch_prefixes = 0 if pods_in else zone.need_prefix_blocks
    _take(free, blocks, launch, zone.need_launch, prefixes=launch_prefixes)
    if pods_in and zone.need_pool:
        ranked = "blocks" if zone.need_prefix_blocks else "free"
        table = blocks if ranked == "blocks" else free
        target = max(pods_in, key=lambda s: (table.get(s, 0), s))
        _take(free, blocks, target, zone.need_pool, prefixes=zone.need_prefix_blocks)


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
    if result.ips_held_now is not None:
        parts.append(f"nodes hold {result.ips_held_after} addresses (now {result.ips_held_now})")
    if result.pending_pods:
        parts.append(f"{result.pending_pods} pods pending")
    if result.first_zone_out and not question.add_nodes:
        parts.append(f"{result.first_zone_out} runs out first")
    parts.append("fits" if result.fits else "does not fit: " + "; ".join(result.why_not))
    return f"{head}: {', '.join(parts)}"
