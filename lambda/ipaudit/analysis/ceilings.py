"""Scale ceilings: how many more nodes each node group and NodePool can start, and how many
more pods fit on the nodes that exist (README "Scale ceilings"; pure).

A new node holds the CNI model's start-up addresses (`cni.startup_holding`) for the group's
instance type with the largest need. They are charged where they land: all in the launch
subnet, or, under custom networking and subnet discovery, 1 (its primary) there and the rest
in its zone's pool; under prefix delegation its prefixes need whole free /28 blocks. A zone
can start as many nodes as the scarcest of those allows. New nodes are assumed spread evenly
over the group's zones, as an Auto Scaling group balances them; a zone that is full is
skipped, so the others take its share. A subnet several groups or clusters draw on is split
between them (`recommend.recommender.equal_share`), never counted twice.

The ceilings are computed from the report's own fields only (`solve`), so `ipaudit what-if`
recomputes them from a stored report with other free addresses or settings.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase

from ipaudit.analysis.pool_subnets import discovery_pools, primary_excluded
from ipaudit.cni import startup_holding
from ipaudit.cni.cni_settings import CniSettings
from ipaudit.cni.kubelet_max_pods import max_pods as default_max_pods
from ipaudit.errors import InputError
from ipaudit.recommend.evaluate import pool_members, pool_subnet
from ipaudit.recommend.recommender import equal_share, free_shares
from ipaudit.report import (
    Ceiling,
    CeilingZone,
    ClusterReport,
    NodeReport,
    PodRoom,
    Severity,
)
from ipaudit.snapshot import Cluster, InstanceTypeLimits, Subnet, SubnetSelectorTerm

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


def startup_env(cluster: ClusterReport) -> Mapping[str, str] | None:
    """aws-node's settings as a new node starts under them, or None when aws-node does not
    hand out the cluster's addresses or its settings are unknown."""
    if cluster.cni is None or cluster.network_mode not in ("vpc-cni", "vpc-cni-ipv6"):
        return None
    env = cluster.cni
    if any(primary_excluded(n) for n in cluster.nodes if n.aws_node) and cluster.subnet_discovery:
        # Its own subnet tagged cni=0: a new node starts like one on custom networking.
        env = {**env, CUSTOM_NETWORKING: "true"}
    return env


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
        shapes.append(
            Ceiling(
                group=pool.name,
                kind="nodepool",
                subnet_ids=launch,
                instance_types=sorted(pool.instance_types or types_of[pool.name]),
                current_nodes=count[pool.name],
                pool_limits=dict(pool.limits),
                zones=_zones(launch, by_id, pools),
                read_notes=notes,
            )
        )
    return shapes


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


@dataclass(frozen=True)
class _Room:
    """This cluster's share of every subnet's free addresses and /28 blocks, split further
    between the groups drawing on the subnet."""

    cluster: ClusterReport
    free: Mapping[str, int]
    blocks: Mapping[str, int]
    users: Mapping[str, Sequence[str]]  # subnet -> the groups drawing on it

    def addresses(self, subnet_ids: Iterable[str], group: str) -> int:
        return sum(
            equal_share(self.free.get(s, 0), self.users.get(s, ()), group) for s in subnet_ids
        )

    def prefix_blocks(self, subnet_ids: Iterable[str], group: str) -> int:
        return sum(
            equal_share(self.blocks.get(s, 0), self.users.get(s, ()), group) for s in subnet_ids
        )


def solve(
    cluster: ClusterReport,
    *,
    free: Mapping[str, int] | None = None,
    blocks: Mapping[str, int] | None = None,
    cni: Mapping[str, str] | None = None,
    current: Mapping[str, int] | None = None,
) -> list[Ceiling]:
    """Every ceiling of `cluster.ceilings` counted again: with the subnets' free addresses and
    /28 blocks as reported, or as `free`/`blocks` say (by subnet), under aws-node's settings
    or `cni`, with each group's node count or `current`'s."""
    if cluster.cni is not None and cni is not None:
        cluster = replace(cluster, cni=dict(cni))
    known = {s.subnet_id: s for s in cluster.subnets}
    free_now = {s: v.free for s, v in known.items()} | dict(free or {})
    blocks_now = {s: v.free_prefix_blocks for s, v in known.items()} | dict(blocks or {})
    # Subnets outside the cluster's own (a pool subnet not reported) count what EC2 said.
    for vpc_subnet in cluster.vpc_subnets:
        free_now.setdefault(vpc_subnet.subnet_id, vpc_subnet.free)
    users: defaultdict[str, list[str]] = defaultdict(list)
    for ceiling in cluster.ceilings:
        for zone in ceiling.zones:
            for subnet_id in (*zone.launch_subnet_ids, *zone.pool_subnet_ids):
                if ceiling.group not in users[subnet_id]:
                    users[subnet_id].append(ceiling.group)
    room = _Room(
        cluster,
        free=free_shares(cluster, free_now) | {s: f for s, f in free_now.items() if s not in known},
        blocks=free_shares(cluster, blocks_now),
        users=users,
    )
    counts = dict(current or {})
    return [
        _solve(cluster, replace(c, current_nodes=counts.get(c.group, c.current_nodes)), room)
        for c in cluster.ceilings
    ]


def _solve(cluster: ClusterReport, ceiling: Ceiling, room: _Room) -> Ceiling:
    inputs = _inputs_only(ceiling)
    why = _unmodelled(cluster, inputs)
    if why is not None:
        return replace(inputs, note=why)
    env = startup_env(cluster)
    assert env is not None  # _unmodelled said so
    known = [t for t in inputs.instance_types if t in cluster.instance_types]
    needs = sorted(
        ((*startup_holding(cluster.instance_types[t], env), t) for t in known),
        key=lambda need: (-need[0], need[2]),
    )
    need, prefixes, instance_type = needs[0]
    limits = cluster.instance_types[instance_type]
    zones = [_zone(zone, need, prefixes, room, inputs.group) for zone in inputs.zones]
    max_nodes, limit = _max_nodes(cluster, inputs, limits)
    wanted = None if max_nodes is None else max(0, max_nodes - inputs.current_nodes)
    caps = {zone.az: zone.nodes_possible for zone in zones}
    ask = sum(caps.values()) + 1 if wanted is None else wanted
    placed, ran_out = place(caps, ask)
    possible = sum(placed.values())
    pods, pods_fit = _pod_room(cluster, inputs.group, room)
    severity: Severity | None = None
    if possible == 0 and (wanted is None or wanted > 0):
        severity = "CRITICAL"
    elif wanted is not None and possible < wanted:
        severity = "WARNING"
    solved = replace(
        inputs,
        modelled=True,
        instance_type=instance_type,
        startup_need=need,
        startup_prefixes=prefixes,
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
        return f"not modelled: instance type(s) {named} unknown to DescribeInstanceTypes"
    return None


def _zone(zone: CeilingZone, need: int, prefixes: int, room: _Room, group: str) -> CeilingZone:
    free_launch = room.addresses(zone.launch_subnet_ids, group)
    if zone.pool_subnet_ids:
        # Only its primary in the launch subnet; the pods' addresses where its pool is.
        need_launch, need_pool = 1, need - 1
        free_pool: int | None = room.addresses(zone.pool_subnet_ids, group)
        block_subnets = zone.pool_subnet_ids
    else:
        need_launch, need_pool, free_pool = need, 0, None
        block_subnets = zone.launch_subnet_ids
    blocks = room.prefix_blocks(block_subnets, group) if prefixes else None
    limits = [free_launch // need_launch]
    if free_pool is not None and need_pool > 0:
        limits.append(free_pool // need_pool)
    if blocks is not None:
        limits.append(blocks // prefixes)
    return replace(
        zone,
        free_launch=free_launch,
        free_pool=free_pool,
        free_prefix_blocks=blocks,
        need_launch=need_launch,
        need_pool=need_pool,
        need_prefix_blocks=prefixes,
        nodes_possible=max(0, min(limits)),
    )


def place(caps: Mapping[str, int], nodes: int) -> tuple[dict[str, int], list[str]]:
    """`nodes` new nodes spread evenly over the zones, a full zone skipped (zones in name order
    take the odd ones): how many each zone starts, and the zones that run out (fill up while
    nodes are still wanted elsewhere), the first first."""
    placed = dict.fromkeys(sorted(caps), 0)
    left = nodes
    open_zones = [z for z in placed if caps[z] > 0]
    while left > 0 and open_zones:
        step = min(min(caps[z] - placed[z] for z in open_zones), left // len(open_zones))
        if step == 0:
            for zone in open_zones[:left]:  # fewer left than open zones: one each, in order
                placed[zone] += 1
            left = 0
            break
        for zone in open_zones:
            placed[zone] += step
        left -= step * len(open_zones)
        open_zones = [z for z in open_zones if placed[z] < caps[z]]
    most = max(placed.values(), default=0)
    ran_out = [
        zone
        for zone in placed
        if nodes > 0 and placed[zone] == caps[zone] and (left > 0 or most > caps[zone])
    ]
    return placed, sorted(ran_out, key=lambda z: (caps[z], z))


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
                f"{resource} {text} ({used:g} used by {len(members)} node(s), {per_node:g} per "
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


def _pod_room(cluster: ClusterReport, group: str, room: _Room) -> tuple[list[PodRoom], int | None]:
    """Pods that still fit on the group's nodes, by pool (the rule in `PodRoom`)."""
    assert cluster.cni is not None
    settings = CniSettings.from_env(startup_env(cluster) or cluster.cni)
    zone_pools = {
        zone: sorted(s.subnet_id for s in subnets)
        for zone, subnets in discovery_pools(cluster).items()
    }
    totals: dict[str, list[int]] = {}
    for node in cluster.nodes:
        if node.group != group or not node.aws_node or node.pods is None:
            continue
        limits = cluster.instance_types.get(node.instance_type)
        if limits is None:
            continue
        kubelet = max(
            0, (node.max_pods or default_max_pods(limits)) - HOST_NETWORK_PODS - node.pods
        )
        warm = max(0, node.warm_ips or 0)
        on_held = min(kubelet, warm)
        grow = min(kubelet, warm + _slots(node, limits, settings)) - on_held
        pool = pool_subnet(node, zone_pools)
        counted = totals.setdefault(pool, [0, 0, 0])
        counted[0] += 1
        counted[1] += on_held
        counted[2] += grow
    if not totals:
        return [], None
    rooms = []
    for pool, (nodes, on_held, grow) in sorted(totals.items()):
        members = pool_members(pool)
        if settings.prefix_delegation:
            free = IPS_PER_PREFIX * room.prefix_blocks(members, group)
        else:
            free = room.addresses(members, group)
        rooms.append(PodRoom(members, nodes, on_held, grow, free, on_held + min(grow, free)))
    return rooms, sum(r.pods_fit for r in rooms)


def _slots(node: NodeReport, limits: InstanceTypeLimits, settings: CniSettings) -> int:
    """Addresses aws-node could still add on the node's ENI slots (card 0), beyond what it
    holds: every ENI it may attach, each up to its limit (16 per /28 in prefix mode)."""
    enis = limits.max_enis if settings.max_eni < 1 else min(settings.max_eni, limits.max_enis)
    enis -= int(settings.pod_eni and limits.takes_trunk_eni)  # the trunk holds no pod address
    enis -= int(settings.custom_networking or primary_excluded(node))  # nor the primary then
    others = [c for c in node.network_cards if c.card > 0]
    held = node.secondary_ips - sum(c.ips_held - c.enis for c in others)
    per_eni = limits.ipv4_per_eni - 1
    if settings.prefix_delegation and limits.supports_prefix_delegation:
        return max(0, enis * per_eni - held // IPS_PER_PREFIX) * IPS_PER_PREFIX
    return max(0, enis * per_eni - held)


def ceiling_line(ceiling: Ceiling) -> str:
    """The ceiling in one line, naming the zones that run out, the first first."""
    what = "node group" if ceiling.kind == "nodegroup" else "NodePool"
    head = f"{what} {ceiling.group}"
    if not ceiling.modelled:
        return f"{head}: {ceiling.note}"
    blocks = f" and {ceiling.startup_prefixes} /28 block(s)" if ceiling.startup_prefixes else ""
    head += f" ({ceiling.instance_type}, {ceiling.startup_need} addresses{blocks} at start-up)"
    possible = ceiling.nodes_possible or 0
    if ceiling.nodes_wanted is None:
        parts = [f"{head} can start {possible} more node(s) ({ceiling.limit})"]
    elif ceiling.nodes_wanted == 0:
        parts = [f"{head} is at its maximum ({ceiling.current_nodes} nodes; {ceiling.limit})"]
    else:
        parts = [
            f"{head} can start {possible} of the {ceiling.nodes_wanted} more node(s) its "
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
    if zone.free_pool is None:
        words = [f"{zone.free_launch} free, {zone.need_launch} per node"]
    else:
        words = [
            f"{zone.free_launch} free where nodes launch, {zone.need_launch} per node",
            f"{zone.free_pool} free for their pods, {zone.need_pool} per node",
        ]
    if zone.free_prefix_blocks is not None:
        words.append(
            f"{zone.free_prefix_blocks} free /28 blocks, {zone.need_prefix_blocks} per node"
        )
    return ", ".join(words)
