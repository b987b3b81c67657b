"""One node's ENIs in the capacity model: where each more address it needs comes from, ENI by
ENI, charged to the subnets' ledger (`Room`) as aws-node would take it (pure).

Growth is ipamd's: the ENIs it has first, in device order, each within its own subnet up to
its per-ENI limit (under prefix delegation only where that subnet still has a free /28); then
a new ENI per free slot, in the candidate subnet with the most free addresses that can hold the
ENI's own address and what ipamd creates it with (`AddressRules.new_eni_request`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ipaudit.capacity.room import Room
from ipaudit.capacity.rules import AddressRules, TypeLimits
from ipaudit.cni.kubelet_max_pods import max_pods as default_max_pods
from ipaudit.report import NodeReport
from ipaudit.snapshot import InstanceTypeLimits

HOST_NETWORK_PODS = 2  # aws-node and kube-proxy: kubelet's max pods counts them
POOL_INTERFACE = "interface"


@dataclass
class PoolEni:
    subnet_id: str
    held: int  # pod addresses, or prefixes in prefix mode
    pods: bool  # aws-node may put pod addresses on it


@dataclass
class NodeState:
    """A node as the model grows it: its pool ENIs on card 0, its free ENI slots, and the
    subnets its next ENI may go to."""

    name: str
    launch: str
    limits: TypeLimits
    enis: list[PoolEni]
    slots: int  # card-0 ENIs it may still attach
    new_eni_subnets: tuple[str, ...]
    pods: int = 0  # running pods with a VPC address, branch-ENI pods included
    branch_pods: int = 0  # of which on branch ENIs (security groups for pods): not aws-node's
    max_pods: int = 0  # kubelet's
    warm: int = 0  # held addresses no pod uses
    obtained: list[tuple[str, int, int]] = field(default_factory=list)  # (subnet, addr, /28s)

    @property
    def pod_slots(self) -> int:
        """Pods kubelet still admits (its max pods counts the two host-network pods)."""
        return max(0, self.max_pods - HOST_NETWORK_PODS - self.pods)

    def affordable(self, room: Room, subnet_id: str) -> int:
        """Units the subnet can still give an ENI of this node."""
        free = room.free.get(subnet_id, 0)
        if self.limits.prefix_mode:
            return max(0, min(room.blocks.get(subnet_id, 0), free // self.limits.unit))
        return max(0, free)

    def grow(self, room: Room, units: int, rules: AddressRules) -> int:
        """Obtain up to `units` more units (addresses, or prefixes), charging `room`; the
        units obtained (a new ENI may bring more than asked: ipamd creates it full under
        WARM_ENI_TARGET)."""
        got = 0
        unit = self.limits.unit
        prefixes = int(self.limits.prefix_mode)
        while got < units:
            for eni in self.enis:
                if got >= units:
                    break
                if not eni.pods or eni.held >= self.limits.per_eni:
                    continue
                take = min(self.limits.per_eni - eni.held, units - got)
                take = min(take, self.affordable(room, eni.subnet_id))
                if take > 0:
                    self.charge(room, eni.subnet_id, take * unit, take * prefixes)
                    eni.held += take
                    got += take
            if got >= units or self.slots == 0:
                break
            request = rules.new_eni_request(self.limits.per_eni, units - got)
            subnet_id = room.most_free(self.new_eni_subnets, 1 + request * unit, request * prefixes)
            if subnet_id is None:
                break  # every candidate refuses it: CreateNetworkInterface fails in each
            self.charge(room, subnet_id, 1 + request * unit, request * prefixes)
            self.enis.append(PoolEni(subnet_id, request, pods=True))
            self.slots -= 1
            got += request
        return got

    def charge(self, room: Room, subnet_id: str, addresses: int, prefixes: int) -> None:
        room.take(subnet_id, addresses, prefixes)
        self.obtained.append((subnet_id, addresses, prefixes))

    def pods_fit(self, room: Room, rules: AddressRules) -> tuple[int, int]:
        """Pods kubelet still admits that get an address: on warm addresses it holds, and on
        what it can still obtain (charged to `room`)."""
        on_held = min(self.pod_slots, self.warm)
        short = self.pod_slots - on_held
        unit = self.limits.unit
        grown = self.grow(room, -(-short // unit), rules) * unit if short else 0
        return on_held, min(short, grown)


def node_state(node: NodeReport, limits: InstanceTypeLimits, rules: AddressRules) -> NodeState:
    """A node of the report as the model holds it: its card-0 ENIs where EC2 says they are
    (a report before `interfaces` had them: the primary in its own subnet, the rest where its
    pods draw), and aws-node's free ENI slots."""
    type_limits = rules.limits(limits)
    fallback = tuple(node.pool_subnet_ids)
    candidates = rules.new_eni_subnets(node.subnet_id, fallback)
    primary_pods = rules.primary_gives_pods(node.subnet_id, fallback)
    unit = type_limits.unit
    enis: list[PoolEni] = []
    attached = 0
    trunk = False
    card0 = [i for i in node.interfaces if i.card == 0]
    for interface in sorted(card0, key=lambda i: i.device_index):
        attached += 1
        if interface.interface_type == "trunk":
            trunk = True
        if interface.interface_type != POOL_INTERFACE:
            continue  # a trunk or an EFA-only interface holds no pod address
        held = interface.prefixes if type_limits.prefix_mode else interface.secondary_ips
        pods = not interface.excluded and (interface.device_index != 0 or primary_pods)
        enis.append(PoolEni(interface.subnet_id, held, pods))
    if not card0:
        others = [c for c in node.network_cards if c.card > 0]
        attached = node.enis - sum(c.enis for c in others)
        held = (node.secondary_ips - sum(c.ips_held - c.enis for c in others)) // unit
        elsewhere = node.pool_subnet_id or node.subnet_id
        for device in range(max(attached, 1)):
            take = min(type_limits.per_eni, held) if device or primary_pods else 0
            subnet_id = node.subnet_id if device == 0 else elsewhere
            enis.append(PoolEni(subnet_id, take, device != 0 or primary_pods))
            held -= take
    # ipamd keeps a slot for the trunk ENI until the resource controller attaches it.
    reserve = int(type_limits.trunk and not trunk)
    return NodeState(
        name=node.node_name or node.instance_id,
        launch=node.subnet_id,
        limits=type_limits,
        enis=enis,
        slots=max(0, type_limits.max_enis - attached - reserve),
        new_eni_subnets=candidates,
        pods=node.pods or 0,
        branch_pods=min(node.branch_enis, node.pods or 0),
        max_pods=node.max_pods or default_max_pods(limits),
        warm=max(0, node.warm_ips or 0),
    )
