"""Scale ceilings: how many more nodes each node group and NodePool can start, and how many
more pods fit on the nodes that exist (docs/report.md "Scale ceilings"; pure).

Every count is the capacity model's (capacity/): a new node of the group's instance type with
the largest start-up need is started node by node in the launch subnet with the most free
that can hold it, its primary ENI's addresses there and each further ENI where aws-node puts
it (`capacity.startup`); nodes are spread evenly over the group's zones, a full zone skipped
(`capacity.launches.place`). A subnet several groups or clusters draw on is split between
them (`capacity.room.equal_share`), never counted twice. Pods that fit on the group's nodes
are each node's warm addresses and what it can still obtain ENI by ENI (`capacity.nodes`).

The ceilings are computed from the report's own fields only (`solve`), so `ipaudit what-if`
recomputes them from a stored report with other free addresses or settings.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from copy import deepcopy
from dataclasses import replace
from fnmatch import fnmatchcase

from ipaudit.capacity.launches import place, zone_launches
from ipaudit.capacity.nodes import NodeState, node_state
from ipaudit.capacity.room import Room, equal_share
from ipaudit.capacity.rules import AddressRules
from ipaudit.capacity.startup import launch_need, startup_need
from ipaudit.cni.cni_settings import CniSettings
from ipaudit.errors import InputError
from ipaudit.report import (
    Ceiling,
    CeilingZone,
    ClusterReport,
    NodeReport,
    PodRoom,
    Severity,
)
from ipaudit.snapshot import Cluster, InstanceTypeLimits, Subnet, SubnetSelectorTerm
from ipaudit.words import noun, plural

CUSTOM_NETWORKING = "AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG"
HOST_NETWORK_PODS = 2  # aws-node and kube-proxy: kubelet's max pods counts them
IPS_PER_PREFIX = 16
KIND = "scale_ceiling"
# Why the model does not apply, by network mode (only `vpc-cni` is modelled).
UNMODELLED = {
    "vpc-cni-ipv6": "IPv6: pods take no IPv4 address and the model counts IPv4 pools only",
    "auto-mode": "EKS Auto Mode runs its nodes' networking: their start-up need is not modelled",
    "other-cni": "another CNI hands out the pods' addresses: the model covers aws-node only",
    "unknown": "the CNI is unknown (Kubernetes unreachable): nothing is claimed",
}


def selected_subnets(
    terms: Iterable[SubnetSelectorTerm], subnets: Iterable[Subnet]
) -> list[Subnet]:
    """The subnets an EC2NodeClass's `subnetSelectorTerms` select, as Karpenter reads them: a
    term matches by id, or by every tag it names (`*` matches any value); terms are ORed."""
    terms = list(terms)

    def matches(subnet: Subnet, term: SubnetSelectorTerm) -> bool:
        if term.subnet_id:
            return subnet.subnet_id == term.subnet_id
        return bool(term.tags) and all(
            key in subnet.tags and fnmatchcase(subnet.tags[key], value)
            for key, value in term.tags.items()
        )

    return [s for s in subnets if any(matches(s, term) for term in terms)]


# -- the groups, read from the snapshot (analysis/cluster.py) ------------------------------

Pools = Callable[[Sequence[str]], list[list[str]]]


def node_groups_of(cluster: Cluster) -> dict[str, str]:
    """Instance id -> the managed node group or NodePool it belongs to."""
    found = {i: group.name for group in cluster.node_groups for i in group.instance_ids}
    kube = cluster.kube
    for node in kube.nodes if kube is not None else ():
        if node.instance_id and node.node_pool and node.instance_id not in found:
            found[node.instance_id] = node.node_pool
    return found


def group_shapes(cluster: Cluster, nodes: Sequence[NodeReport], pools: Pools) -> list[Ceiling]:
    """Every node group and NodePool as a ceiling to solve: where it launches, zone by zone,
    where its new nodes' pods would draw (`pools`: analysis/cluster.cluster_pools), its
    limits, and how many nodes it has."""
    by_id = {s.subnet_id: s for s in (*cluster.vpc_subnets, *cluster.subnets)}
    types_of: defaultdict[str, set[str]] = defaultdict(set)
    count: defaultdict[str, int] = defaultdict(int)
    for node in nodes:
        if node.group is not None:
            types_of[node.group].add(node.instance_type)
            count[node.group] += 1
    shapes = []
    for group in cluster.node_groups:
        notes = []
        if not group.asg_found:
            notes.append(
                "its Auto Scaling group was not found: DescribeNodegroup's scalingConfig "
                "maxSize stands in and its nodes are counted from the cluster's nodes"
            )
        current = len(group.instance_ids) if group.asg_found else count[group.name]
        shapes.append(
            Ceiling(
                group=group.name,
                kind="nodegroup",
                subnet_ids=list(group.subnet_ids),
                instance_types=sorted(group.instance_types or types_of[group.name]),
                current_nodes=current,
                max_size=group.max_size,
                zones=_zones(group.subnet_ids, by_id, pools),
                read_notes=notes,
            )
        )
    kube = cluster.kube
    vpc = [s for s in cluster.vpc_subnets or cluster.subnets if s.vpc_id == cluster.vpc_id]
    for pool in kube.node_pools if kube is not None else ():
        notes = []
        if not pool.node_class_found:
            notes.append(f"its EC2NodeClass {pool.node_class!r} was not found: no subnets")
        launch = [s.subnet_id for s in selected_subnets(pool.subnet_selector, vpc)]
        if pool.zones:
            # Karpenter launches only in the zones its requirements allow.
            launch = [s for s in launch if s in by_id and by_id[s].az in pool.zones]
            notes.append(f"zones limited to {', '.join(pool.zones)} by its requirements")
        types = list(pool.named_types)
        if not pool.instance_types and types:
            known = [t for t in types if t in cluster.instance_types]
            largest = max(known, key=lambda t: _size(cluster.instance_types[t]), default=None)
            if largest is not None:
                notes.append(
                    f"its requirements allow {plural(len(types), 'type')} by family and size: "
                    f"counted "
                    f"for the largest DescribeInstanceTypes knows, {largest}"
                )
                types = [largest]
        shapes.append(
            Ceiling(
                group=pool.name,
                kind="nodepool",
                subnet_ids=launch,
                instance_types=sorted(types or types_of[pool.name]),
                current_nodes=count[pool.name],
                pool_limits=dict(pool.limits),
                zones=_zones(launch, by_id, pools),
                read_notes=notes,
            )
        )
    return shapes


def _size(limits: InstanceTypeLimits) -> tuple[int, int]:
    """An instance type's size as the start-up need grows with it: ENIs, then addresses."""
    return limits.max_enis * limits.ipv4_per_eni, limits.vcpus


def _zones(launch: Sequence[str], by_id: Mapping[str, Subnet], pools: Pools) -> list[CeilingZone]:
    known = [s for s in launch if s in by_id]
    by_zone: dict[str, list[str]] = {}
    for subnet_id in known:
        by_zone.setdefault(by_id[subnet_id].az, []).append(subnet_id)
    zones = []
    for az, subnet_ids in sorted(by_zone.items()):
        drawn: list[str] = []
        for pool in pools(subnet_ids):
            drawn += [s for s in pool if s not in drawn and s not in subnet_ids]
        zones.append(
            CeilingZone(az=az, launch_subnet_ids=sorted(subnet_ids), pool_subnet_ids=drawn)
        )
    return zones


# -- solving, from the report alone ---------------------------------------------------------


def solve(
    cluster: ClusterReport,
    *,
    free: Mapping[str, int] | None = None,
    blocks: Mapping[str, int] | None = None,
    cni: Mapping[str, str] | None = None,
    current: Mapping[str, int] | None = None,
    nodes: Mapping[str, NodeState] | None = None,
) -> list[Ceiling]:
    """Every ceiling of `cluster.ceilings` counted again: with the subnets' free addresses and
    /28 blocks as reported, or as `free`/`blocks` say (by subnet), under aws-node's settings
    or `cni`, with each group's node count or `current`'s, and its nodes as the report has
    them or as `nodes` (by instance id) holds them after a change."""
    if cluster.cni is not None and cni is not None:
        cluster = replace(cluster, cni=dict(cni))
    room = Room.of(cluster, free=free, blocks=blocks)
    users: defaultdict[str, list[str]] = defaultdict(list)
    for ceiling in cluster.ceilings:
        for zone in ceiling.zones:
            for subnet_id in (*zone.launch_subnet_ids, *zone.pool_subnet_ids):
                if ceiling.group not in users[subnet_id]:
                    users[subnet_id].append(ceiling.group)
    counts = dict(current or {})
    return [
        _solve(
            cluster,
            replace(c, current_nodes=counts.get(c.group, c.current_nodes)),
            group_room(room, users, c.group),
            nodes or {},
        )
        for c in cluster.ceilings
    ]


def group_room(room: Room, users: Mapping[str, Sequence[str]], group: str) -> Room:
    """The group's share of the cluster's room: a subnet several groups draw on is split."""
    return Room(
        {s: equal_share(f, users.get(s, ()), group) for s, f in room.free.items()},
        {s: equal_share(b, users.get(s, ()), group) for s, b in room.blocks.items()},
    )


def address_rules(cluster: ClusterReport) -> AddressRules:
    assert cluster.cni is not None
    return AddressRules.of(cluster, CniSettings.from_env(cluster.cni))


def _solve(
    cluster: ClusterReport, ceiling: Ceiling, room: Room, nodes: Mapping[str, NodeState]
) -> Ceiling:
    inputs = _inputs_only(ceiling)
    why = _unmodelled(cluster, inputs)
    if why is not None:
        return replace(inputs, note=why)
    rules = address_rules(cluster)
    launch_any = inputs.zones[0].launch_subnet_ids[0]

    def need_of(instance_type: str) -> tuple[int, str]:
        limits = cluster.instance_types[instance_type]
        need = startup_need(limits, rules, launch_any)
        return need.addresses(rules.limits(limits).unit), instance_type

    known = [t for t in inputs.instance_types if t in cluster.instance_types]
    _, instance_type = min((need_of(t) for t in known), key=lambda n: (-n[0], n[1]))
    limits = cluster.instance_types[instance_type]
    max_nodes, limit = _max_nodes(cluster, inputs, limits)
    wanted = None if max_nodes is None else max(0, max_nodes - inputs.current_nodes)
    # Each zone counts every node it can hold; the spread over zones decides how many start.
    zones = [_zone(zone, limits, rules, room.copy(), UNLIMITED) for zone in inputs.zones]
    caps = {zone.az: zone.nodes_possible for zone in zones}
    ask = sum(caps.values()) + 1 if wanted is None else wanted
    placed, ran_out = place(caps, ask)
    possible = sum(placed.values())
    pods, pods_fit = _pod_room(cluster, inputs.group, rules, room.copy(), nodes)
    severity: Severity | None = None
    if possible == 0 and (wanted is None or wanted > 0):
        severity = "CRITICAL"
    elif wanted is not None and possible < wanted:
        severity = "WARNING"
    widest = max(zones, key=lambda z: z.need_launch + z.need_pool)
    solved = replace(
        inputs,
        modelled=True,
        instance_type=instance_type,
        startup_need=widest.need_launch + widest.need_pool,
        startup_prefixes=widest.need_prefix_blocks,
        max_nodes=max_nodes,
        limit=limit,
        nodes_wanted=wanted,
        nodes_possible=possible,
        first_zone_out=ran_out[0] if ran_out else None,
        zones=zones,
        pods_fit_now=pods_fit,
        pods=pods,
        severity=severity,
    )
    return replace(solved, note=ceiling_line(solved))


UNLIMITED = 10**9  # no maximum: count every node the subnets can start


def _inputs_only(ceiling: Ceiling) -> Ceiling:
    """The ceiling as read (what the group is), its answers cleared."""
    return Ceiling(
        group=ceiling.group,
        kind=ceiling.kind,
        subnet_ids=ceiling.subnet_ids,
        instance_types=ceiling.instance_types,
        current_nodes=ceiling.current_nodes,
        max_size=ceiling.max_size,
        pool_limits=ceiling.pool_limits,
        zones=[CeilingZone(z.az, z.launch_subnet_ids, z.pool_subnet_ids) for z in ceiling.zones],
        read_notes=ceiling.read_notes,
    )


def _unmodelled(cluster: ClusterReport, ceiling: Ceiling) -> str | None:
    if cluster.network_mode != "vpc-cni":
        return f"not modelled: {UNMODELLED.get(cluster.network_mode, cluster.network_mode)}"
    if cluster.cni is None:
        return "not modelled: aws-node's settings could not be read"
    try:
        settings = CniSettings.from_env(cluster.cni)
    except InputError as error:
        return f"not modelled: aws-node's {error}"
    if settings.ipv6:
        return f"not modelled: {UNMODELLED['vpc-cni-ipv6']}"
    if not ceiling.zones:
        return "not modelled: none of its subnets is known, so no zone can be counted"
    if not any(t in cluster.instance_types for t in ceiling.instance_types):
        named = ", ".join(ceiling.instance_types)
        if not named:
            return (
                "not modelled: it names no instance type and runs no node, so a new node's "
                "start-up need is unknown"
            )
        types = noun(len(ceiling.instance_types), "instance type")
        return f"not modelled: {types} {named} unknown to DescribeInstanceTypes"
    return None


def _zone(
    zone: CeilingZone, limits: InstanceTypeLimits, rules: AddressRules, room: Room, cap: int
) -> CeilingZone:
    """The nodes the zone starts, one by one, each in the launch subnet with the most free
    that can hold it, each part of its start-up pool where aws-node puts it."""
    launch = zone.launch_subnet_ids
    need = startup_need(limits, rules, launch[0])
    unit = rules.limits(limits).unit
    in_launch, elsewhere = launch_need(limits, rules, launch[0])
    pool = [s for s in zone.pool_subnet_ids if s not in launch]
    blocks = None
    if unit > 1:
        where = launch if need.primary_pods else pool
        blocks = sum(room.blocks.get(s, 0) for s in where)
    before = replace(
        zone,
        free_launch=sum(room.free.get(s, 0) for s in launch),
        free_by_subnet={s: room.free.get(s, 0) for s in launch},
        free_pool=sum(room.free.get(s, 0) for s in pool) if elsewhere else None,
        free_prefix_blocks=blocks,
        need_launch=in_launch,
        need_pool=elsewhere,
        need_prefix_blocks=(sum(need.layout) + need.extra_cards) if unit > 1 else 0,
    )
    started = zone_launches(limits, rules, launch, room, cap)
    return replace(before, nodes_possible=sum(started.values()), nodes_by_subnet=started)


_QUANTITY = re.compile(r"^([0-9.]+)([a-zA-Z]*)$")
_SUFFIX = {
    "": 1.0,
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "Ki": 2.0**10,
    "Mi": 2.0**20,
    "Gi": 2.0**30,
    "Ti": 2.0**40,
}


def quantity(text: str) -> float | None:
    """A Kubernetes quantity (`1000`, `500m`, `1000Gi`) as a number; None when unreadable."""
    match = _QUANTITY.match(text.strip())
    if match is None or match[2] not in _SUFFIX:
        return None
    try:
        return float(match[1]) * _SUFFIX[match[2]]
    except ValueError:
        return None


def _max_nodes(
    cluster: ClusterReport, ceiling: Ceiling, limits: InstanceTypeLimits
) -> tuple[int | None, str]:
    """The most nodes the group may have, and what sets it, in words with its numbers."""
    if ceiling.kind == "nodegroup":
        if ceiling.max_size is None:
            return None, "no maximum size read"
        return ceiling.max_size, f"Auto Scaling group MaxSize {ceiling.max_size}"
    members = [n for n in cluster.nodes if n.group == ceiling.group]
    bounds: list[tuple[int, str]] = []
    for resource, text in sorted(ceiling.pool_limits.items()):
        value = quantity(text)
        if value is None:
            continue
        if resource == "nodes":
            bounds.append((int(value), f"nodes {text}"))
            continue
        per_node, used = _per_node(cluster, resource, limits, members)
        if per_node is None or used is None:
            continue
        more = max(0, math.floor((value - used) / per_node))
        bounds.append(
            (
                ceiling.current_nodes + more,
                f"{resource} {text} ({used:g} used by {plural(len(members), 'node')}, "
                f"{per_node:g} per "
                f"{limits.instance_type}: {more} more)",
            )
        )
    if not bounds:
        return None, "no NodePool limit on nodes, cpu or memory"
    tightest = min(bound for bound, _ in bounds)
    return tightest, "NodePool limits: " + "; ".join(text for _, text in bounds)


def _per_node(
    cluster: ClusterReport,
    resource: str,
    limits: InstanceTypeLimits,
    members: Sequence[NodeReport],
) -> tuple[float | None, float | None]:
    """A new node's and the current nodes' `cpu` (vCPUs) or `memory` (bytes); None: unknown."""

    def size(item: InstanceTypeLimits) -> float | None:
        if resource == "cpu":
            return float(item.vcpus)
        if resource == "memory" and item.memory_mib:
            return float(item.memory_mib) * 2**20
        return None

    sizes = [
        size(cluster.instance_types[n.instance_type])
        if n.instance_type in cluster.instance_types
        else None
        for n in members
    ]
    used = None if None in sizes else sum(s or 0.0 for s in sizes)
    return size(limits), used


def _pod_room(
    cluster: ClusterReport,
    group: str,
    rules: AddressRules,
    room: Room,
    after: Mapping[str, NodeState],
) -> tuple[list[PodRoom], int | None]:
    """Pods that still fit on the group's nodes, by where their next ENI may go (the rule in
    `PodRoom`): each node's warm addresses, then what the model can still obtain for it ENI
    by ENI, charged as it goes so that two nodes never count one free address."""
    totals: dict[tuple[str, ...], list[int]] = {}
    for node in cluster.nodes:
        if node.group != group or not node.aws_node or node.pods is None:
            continue
        limits = cluster.instance_types.get(node.instance_type)
        if limits is None:
            continue
        if node.instance_id in after:
            state = deepcopy(after[node.instance_id])
        else:
            state = node_state(node, limits, rules)
        free = sum(room.free.get(s, 0) for s in {*state.new_eni_subnets, *_grown_in(state)})
        on_held, grown = state.pods_fit(room, rules)
        pool = tuple(sorted({*state.new_eni_subnets, *_grown_in(state)}))
        counted = totals.setdefault(pool, [0, 0, 0, 0, 0])
        counted[0] += 1
        counted[1] += on_held
        counted[2] += state.pod_slots - on_held
        counted[3] = max(counted[3], free)
        counted[4] += grown
    if not totals:
        return [], None
    rooms = [
        PodRoom(list(pool), nodes, on_held, needing, free, on_held + grown)
        for pool, (nodes, on_held, needing, free, grown) in sorted(totals.items())
    ]
    return rooms, sum(r.pods_fit for r in rooms)


def _grown_in(state: NodeState) -> set[str]:
    """The subnets its ENIs that may still grow are in."""
    return {e.subnet_id for e in state.enis if e.pods and e.held < state.limits.per_eni}


def ceiling_line(ceiling: Ceiling) -> str:
    """The ceiling in one line, naming the zones that run out, the first first."""
    what = "node group" if ceiling.kind == "nodegroup" else "NodePool"
    head = f"{what} {ceiling.group}"
    if not ceiling.modelled:
        return f"{head}: {ceiling.note}"
    blocks = (
        f" and {plural(ceiling.startup_prefixes, '/28 block')}" if ceiling.startup_prefixes else ""
    )
    head += f" ({ceiling.instance_type}, {ceiling.startup_need} addresses{blocks} at start-up)"
    possible = ceiling.nodes_possible or 0
    if ceiling.nodes_wanted is None:
        parts = [f"{head} can start {possible} more {noun(possible, 'node')} ({ceiling.limit})"]
    elif ceiling.nodes_wanted == 0:
        parts = [f"{head} is at its maximum ({ceiling.current_nodes} nodes; {ceiling.limit})"]
    else:
        parts = [
            f"{head} can start {possible} of the {ceiling.nodes_wanted} more "
            f"{noun(ceiling.nodes_wanted, 'node')} its "
            f"maximum allows ({ceiling.current_nodes} now; {ceiling.limit})"
        ]
    caps = {zone.az: zone.nodes_possible for zone in ceiling.zones}
    wanted = ceiling.nodes_wanted
    _, ran_out = place(caps, sum(caps.values()) + 1 if wanted is None else wanted)
    words = {zone.az: _zone_words(zone) for zone in ceiling.zones}
    if ran_out:
        parts.append("first to run out: " + ran_out_words(caps, ran_out, words))
    if ceiling.pods_fit_now is not None:
        nodes = sum(p.nodes for p in ceiling.pods)
        parts.append(f"{ceiling.pods_fit_now} more pods fit on its {nodes} nodes")
    return "; ".join(parts + ceiling.read_notes)


def ran_out_words(
    caps: Mapping[str, int], ran_out: Sequence[str], words: Mapping[str, str] | None = None
) -> str:
    """`eu-west-1a and eu-west-1b cannot start one (...); eu-west-1c runs out after 3 (...)`:
    the zones that run out, the first first, alike ones together, with what they count."""
    said: list[tuple[int, str, list[str]]] = []
    for az in ran_out:
        counted = (words or {}).get(az, "")
        if said and said[-1][:2] == (caps[az], counted):
            said[-1][2].append(az)
        else:
            said.append((caps[az], counted, [az]))
    phrases = []
    for number, (cap, counted, zones) in enumerate(said):
        verdict = "cannot start one" if cap == 0 else f"runs out after {cap}"
        if len(zones) > 1 and cap > 0:
            verdict = f"run out after {cap} each"
        each = " each" if len(zones) > 1 else ""
        then = "then " if number else ""
        counted_words = f" ({counted}{each})" if counted else ""
        phrases.append(f"{then}{_names(zones)} {verdict}{counted_words}")
    return "; ".join(phrases)


def _names(zones: Sequence[str]) -> str:
    return zones[0] if len(zones) == 1 else ", ".join(zones[:-1]) + " and " + zones[-1]


def _zone_words(zone: CeilingZone) -> str:
    each = zone.free_by_subnet
    if len(each) > 1:  # a node lands in one of them: each is counted alone
        launch = ", ".join(f"{s} {f}" for s, f in each.items()) + " free"
        per_node = f"{zone.need_launch} per node in one of them"
    else:
        launch, per_node = f"{zone.free_launch} free", f"{zone.need_launch} per node"
    if zone.free_pool is None:
        words = [f"{launch}, {per_node}"]
    else:
        words = [
            f"{launch} where nodes launch, {per_node}",
            f"{zone.free_pool} free for their pods, {zone.need_pool} per node",
        ]
    if zone.free_prefix_blocks is not None:
        words.append(
            f"{zone.free_prefix_blocks} free /28 blocks, {zone.need_prefix_blocks} per node"
        )
    return ", ".join(words)
