"""More pods on a cluster's nodes, placed where there is room (pure).

A pod needs a node with a free pod slot (kubelet's max pods) and an address: one aws-node
already holds warm, or one it can still obtain (`NodeState.grow`). Pods go first to warm
addresses, the node with the most warm first; then to the nodes that can obtain more, in
report order, each node growing ENI by ENI as aws-node would. Once every pod has a node, each
node settles as ipamd would under the settings (its warm target topped up: the CNI
simulation of that node with its new pods), where there is still room for it.

Pods left over are pending for one of two causes, each with its own fix: no node has a pod
slot left (add nodes), or the nodes with slots can obtain no address (subnet room).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from ipaudit.capacity.nodes import NodeState
from ipaudit.capacity.room import Room
from ipaudit.capacity.rules import AddressRules
from ipaudit.cni.simulator import simulate
from ipaudit.snapshot import InstanceTypeLimits


@dataclass(frozen=True)
class Placed:
    placed: int  # pods that got a node and an address
    no_node_room: int  # pending: no node has a pod slot left (max pods, or ENI slots)
    no_address: int  # pending: nodes have slots, but no address can be held or obtained
    per_node: tuple[int, ...]  # pods added to each node, in the order given


def place_pods(
    nodes: Sequence[NodeState],
    limits: Sequence[InstanceTypeLimits],
    pods: int,
    room: Room,
    rules: AddressRules,
) -> Placed:
    """`pods` more pods on `nodes` (charging `room` for what they obtain), then each node
    settled under `rules.settings`."""
    added = [0] * len(nodes)
    left = pods
    for index in sorted(range(len(nodes)), key=lambda i: -nodes[i].warm):
        if left == 0:
            break
        node = nodes[index]
        take = min(left, node.pod_slots, node.warm)
        _admit(node, take)
        added[index] += take
        left -= take
    for index, node in enumerate(nodes):
        if left == 0:
            break
        if node.pod_slots == 0:
            continue
        unit = node.limits.unit
        wanted = min(left, node.pod_slots)
        node.warm += node.grow(room, -(-wanted // unit), rules) * unit
        take = min(wanted, node.warm)
        _admit(node, take)
        added[index] += take
        left -= take
    slots = sum(n.pod_slots for n in nodes)
    no_address = min(left, slots)
    for node, limit, more in zip(nodes, limits, added, strict=True):
        if more:
            settle(node, limit, room, rules)
    return Placed(pods - left, left - no_address, no_address, tuple(added))


def _admit(node: NodeState, pods: int) -> None:
    node.pods += pods
    node.warm -= pods


def settle(node: NodeState, limits: InstanceTypeLimits, room: Room, rules: AddressRules) -> None:
    """Top the node's pool up to what ipamd holds for its pods under the settings (the CNI
    simulation from its ENIs as they are), as far as the room allows."""
    settings = rules.settings
    primary_pods = bool(node.enis) and node.enis[0].pods
    if not primary_pods and not settings.custom_networking:
        settings = replace(settings, custom_networking=True)
    layout = [e.held for e in node.enis if e.pods or e is node.enis[0]]
    pool_pods = node.pods - node.branch_pods
    step = simulate(
        limits,
        settings,
        (pool_pods,),
        max_pods=node.max_pods,
        placement="spread",
        start=layout,
    ).steps[0]
    held = sum(e.held for e in node.enis if e.pods)
    target = sum(step.layout)
    if target > held:
        node.warm += node.grow(room, target - held, rules) * node.limits.unit
