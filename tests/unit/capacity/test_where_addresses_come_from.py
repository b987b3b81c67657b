"""The capacity model, address by address, counted by hand from
shared/domain/vpc-cni-subnet-discovery.md (§2's worked examples (a)-(c) and "Where a new node
lands"). m5.large: 3 ENIs x 10 IPv4 (9 for pods each); v1.23.1; WARM_ENI_TARGET=1 unless said.
P is the launch subnet (untagged), A a subnet tagged `kubernetes.io/role/cni=1` in its zone."""

from __future__ import annotations

import random
from dataclasses import replace

from ipaudit.capacity.launches import zone_launches
from ipaudit.capacity.nodes import NodeState, PoolEni, node_state
from ipaudit.capacity.room import Room
from ipaudit.capacity.rules import AddressRules
from ipaudit.capacity.startup import launch_need, start_node, startup_need
from ipaudit.cni.cni_settings import CniSettings
from ipaudit.report import NodeInterface, NodeReport
from ipaudit.snapshot import InstanceTypeLimits

M5_LARGE = InstanceTypeLimits("m5.large", 3, 10, 2, "nitro")
C6IN = InstanceTypeLimits("c6in.32xlarge", 8, 50, 128, "nitro", network_cards=(8, 8))


def rules(
    eni_subnets: dict[str, tuple[str, ...]] | None = None,
    discovery: bool = True,
    **settings: object,
) -> AddressRules:
    return AddressRules(
        CniSettings(**settings),  # type: ignore[arg-type]
        discovery,
        eni_subnets if eni_subnets is not None else {"P": ("A", "P")},
    )


def interface(
    device: int, subnet_id: str, ips: int, kind: str = "interface", excluded: bool = False
) -> NodeInterface:
    return NodeInterface(f"eni-{device}", subnet_id, device, 0, kind, ips, 0, excluded)


def node(*interfaces: NodeInterface, pods: int, warm: int, branch: int = 0) -> NodeReport:
    held = sum(i.secondary_ips for i in interfaces if i.interface_type == "interface")
    return NodeReport(
        "i-1",
        "m5.large",
        "P",
        len(interfaces),
        held + len(interfaces),
        held,
        pods,
        warm,
        max_pods=29,
        branch_enis=branch,
        interfaces=list(interfaces),
    )


# -- a new node: what it takes, and where -----------------------------------------------------


def test_an_untagged_launch_subnet_gives_the_primary_enis_ten_under_discovery() -> None:
    # "ipamd fills the primary ENI from its own subnet": 1 + 9 in P, nothing in A.
    assert launch_need(M5_LARGE, rules(), "P") == (10, 0)
    room = Room({"P": 40, "A": 8000})
    assert zone_launches(M5_LARGE, rules(), ["P"], room, 100) == {"P": 4}  # 40 // 10
    assert (room.free["P"], room.free["A"]) == (0, 8000)


def test_a_launch_subnet_tagged_zero_gives_only_the_node_ip() -> None:
    # Example (c): P excluded, the primary ENI gives no pod address; the start-up pool is a
    # second ENI (1 + 9) in A. P loses only the node IP.
    excluded = rules({"P": ("A",)})
    assert launch_need(M5_LARGE, excluded, "P") == (1, 10)
    room = Room({"P": 200, "A": 8000})
    assert start_node(M5_LARGE, excluded, "P", room) is not None
    assert (room.free["P"], room.free["A"]) == (199, 7990)


def test_security_groups_for_pods_put_the_trunk_in_the_launch_subnet_even_when_tagged_zero() -> (
    None
):
    # The VPC resource controller reads no tags: trunk (1) in P, beside the node IP.
    sgp = rules({"P": ("A",)}, pod_eni=True)
    assert launch_need(M5_LARGE, sgp, "P") == (2, 10)
    room = Room({"P": 1, "A": 8000})
    assert start_node(M5_LARGE, sgp, "P", room) is None  # the trunk has no address left in P
    assert room.free == {"P": 1, "A": 8000}  # nothing charged when it does not start


def test_two_launch_subnets_of_fifteen_start_one_node_each_not_three() -> None:
    room = Room({"P": 15, "Q": 15})
    both = rules({"P": ("P",), "Q": ("Q",)}, discovery=False)
    assert zone_launches(M5_LARGE, both, ["P", "Q"], room, 100) == {"P": 1, "Q": 1}


def test_custom_networking_takes_the_node_ip_where_it_launches_and_an_eni_in_the_eniconfig() -> (
    None
):
    custom = rules({"P": ("E",)}, custom_networking=True)
    assert launch_need(M5_LARGE, custom, "P") == (1, 10)
    assert startup_need(M5_LARGE, custom, "P").layout == (0, 9)


def test_each_extra_network_card_holds_one_eni_with_one_address() -> None:
    # ENABLE_MULTI_NIC on a two-card type: card 1 holds 1 + 1 where new ENIs go.
    need = startup_need(C6IN, rules(multi_nic=True), "P")
    assert need.extra_cards == 1
    assert need.addresses(1) == 1 + 49 + 2


# -- an existing node: where it grows ---------------------------------------------------------


def test_example_a_a_full_node_gets_its_third_eni_from_the_tagged_subnet() -> None:
    # 2 ENIs in P (free 0), 18 pods. The next ENI goes to A (8000 free): 9 more.
    state = node_state(
        node(interface(0, "P", 9), interface(1, "P", 9), pods=18, warm=0),
        M5_LARGE,
        rules(),
    )
    room = Room({"P": 0, "A": 8000})
    assert state.pods_fit(room, rules()) == (0, 9)
    assert room.free["A"] == 7990


def test_example_a_without_discovery_gets_nothing() -> None:
    off = rules({"P": ("P",)}, discovery=False)
    state = node_state(
        node(interface(0, "P", 9), interface(1, "P", 9), pods=18, warm=0), M5_LARGE, off
    )
    assert state.pods_fit(Room({"P": 0, "A": 8000}), off) == (0, 0)


def test_an_eni_whose_subnet_is_at_zero_is_not_grown() -> None:
    # The primary ENI (in P, 0 free) holds 4 of 9; its 5 empty slots cannot be filled. The
    # two free slots each take a new ENI of 1 + 9 in A: 18 pods, not 5 + 18.
    state = node_state(node(interface(0, "P", 4), pods=4, warm=0), M5_LARGE, rules())
    assert state.pods_fit(Room({"P": 0, "A": 100}), rules()) == (0, 18)


def test_discovery_off_and_the_node_subnet_tagged_zero_refuses_every_new_eni() -> None:
    # v1.22+: "primary subnet is tagged ... =0 and subnet discovery is disabled": the
    # audit finds no subnet for a new ENI; the primary (not excluded: no discovery) grows.
    refused = rules({"P": ()}, discovery=False)
    state = node_state(node(interface(0, "P", 5), pods=5, warm=0), M5_LARGE, refused)
    assert state.pods_fit(Room({"P": 100}), refused) == (0, 4)


def test_prefix_delegation_grows_only_where_a_free_28_is_left() -> None:
    pd = rules({"P": ("P",)}, discovery=False, prefix_delegation=True)
    report = node(replace(interface(0, "P", 0), prefixes=1), pods=16, warm=0)
    state = node_state(report, M5_LARGE, pd)
    # 200 free addresses but no whole /28: nothing (EC2 answers InsufficientCidrBlocks).
    assert state.pods_fit(Room({"P": 200}, {"P": 0}), pd) == (0, 0)
    state = node_state(report, M5_LARGE, pd)
    # Free blocks: one more prefix on the primary (16 addresses) for its 11 pods of room.
    assert state.pods_fit(Room({"P": 200}, {"P": 2}), pd) == (0, 11)


def test_branch_pods_of_security_groups_for_pods_are_not_on_the_warm_pool() -> None:
    # 6 warm on the pool; 3 of its 7 pods run on branch ENIs. Kubelet counts all 7.
    state = node_state(
        node(interface(0, "P", 9), interface(1, "P", 0, kind="trunk"), pods=7, warm=6, branch=3),
        M5_LARGE,
        rules(pod_eni=True),
    )
    assert (state.warm, state.branch_pods, state.pod_slots) == (6, 3, 20)
    # The trunk holds a slot: one ENI slot left for pods.
    assert state.slots == 1


# -- the batched launches equal launching one node at a time ----------------------------------


def _one_by_one(
    limits: InstanceTypeLimits, the_rules: AddressRules, launch: list[str], room: Room, cap: int
) -> dict[str, int]:
    started = dict.fromkeys(launch, 0)
    while sum(started.values()) < cap:
        for subnet_id in sorted(launch, key=lambda s: (-room.free.get(s, 0), s)):
            if start_node(limits, the_rules, subnet_id, room) is not None:
                started[subnet_id] += 1
                break
        else:
            break
    return started


def test_launches_counted_in_batches_equal_launching_one_node_at_a_time() -> None:
    generator = random.Random(7)
    for _ in range(150):
        launch = ["P", "Q"][: generator.randint(1, 2)]
        pods = ["A", "B"][: generator.randint(0, 2)]
        eni = {s: tuple(pods + ([s] if generator.random() < 0.7 else [])) for s in launch}
        the_rules = AddressRules(
            CniSettings(
                warm_ip_target=generator.choice([0, 0, 3]),
                custom_networking=False,
                pod_eni=generator.random() < 0.3,
            ),
            True,
            eni,
        )
        free = {s: generator.randint(0, 400) for s in [*launch, *pods]}
        cap = generator.choice([5, 40, 10**9])
        fast = zone_launches(M5_LARGE, the_rules, launch, Room(free), cap)
        slow = _one_by_one(M5_LARGE, the_rules, launch, Room(free), cap)
        assert fast == slow, (free, eni, the_rules.settings)


def test_a_new_node_state_holds_what_it_started_with() -> None:
    state = start_node(M5_LARGE, rules(), "P", Room({"P": 100, "A": 100}))
    assert isinstance(state, NodeState)
    assert state.enis == [PoolEni("P", 9, True)]
    assert state.warm == 9
