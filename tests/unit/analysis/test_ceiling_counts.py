"""Scale ceilings counted from a report's own fields: where a new node's start-up addresses
land, zone by zone, a shared subnet split between its groups, the balanced spread over zones.
m5.large: 3 ENIs x 10 addresses; under aws-node's defaults a new one holds 10 at start-up,
under custom networking 11 (1 on its primary ENI, 10 on its second)."""

from __future__ import annotations

from dataclasses import replace

from ipaudit.analysis.ceilings import place, quantity, selected_subnets, solve
from ipaudit.report import Ceiling, CeilingZone, ClusterReport, NodeReport, SubnetReport
from ipaudit.snapshot import InstanceTypeLimits, Subnet, SubnetSelectorTerm

M5_LARGE = InstanceTypeLimits("m5.large", 3, 10, 2, "nitro")


def _subnet(subnet_id: str, az: str, free: int, roles: list[str], blocks: int = 0) -> SubnetReport:
    return SubnetReport(subnet_id, "10.0.0.0/24", az, 251, free, 0.0, blocks, roles=roles)


def _node(subnet_id: str, pods: int, group: str = "ng") -> NodeReport:
    return NodeReport(
        instance_id=f"i-{subnet_id}-{pods}",
        instance_type="m5.large",
        subnet_id=subnet_id,
        enis=1,
        ips_held=10,
        secondary_ips=9,
        pods=pods,
        warm_ips=9 - pods,
        max_pods=29,
        pool_subnet_id=subnet_id,
        pool_subnet_ids=[subnet_id],
        group=group,
    )


def _group(name: str, zones: list[CeilingZone], max_size: int = 10, current: int = 2) -> Ceiling:
    launch = [s for z in zones for s in z.launch_subnet_ids]
    return Ceiling(name, "nodegroup", launch, ["m5.large"], current, max_size=max_size, zones=zones)


def _cluster(
    subnets: list[SubnetReport],
    ceilings: list[Ceiling],
    nodes: list[NodeReport] | None = None,
    cni: dict[str, str] | None = None,
) -> ClusterReport:
    return ClusterReport(
        account_id="111111111111",
        region="eu-west-1",
        name="shop",
        vpc_id="vpc-1",
        cni={} if cni is None else cni,
        subnets=subnets,
        nodes=nodes or [],
        leaked_enis=[],
        ips_held=0,
        pods=0,
        warm_ips=0,
        instance_types={"m5.large": M5_LARGE},
        ceilings=ceilings,
    )


TWO_ZONES = [CeilingZone("eu-west-1a", ["subnet-a"]), CeilingZone("eu-west-1b", ["subnet-b"])]


def test_each_zone_starts_what_its_free_addresses_allow_and_the_spread_skips_a_full_zone() -> None:
    cluster = _cluster(
        [
            _subnet("subnet-a", "eu-west-1a", 25, ["nodes", "pods"]),
            _subnet("subnet-b", "eu-west-1b", 100, ["nodes", "pods"]),
        ],
        [_group("ng", TWO_ZONES, max_size=22)],
    )
    [ceiling] = solve(cluster)
    assert [(z.free_launch, z.need_launch, z.nodes_possible) for z in ceiling.zones] == [
        (25, 10, 2),
        (100, 10, 10),
    ]
    assert (ceiling.nodes_wanted, ceiling.nodes_possible, ceiling.severity) == (20, 12, "WARNING")
    assert ceiling.first_zone_out == "eu-west-1a"


def test_under_custom_networking_one_address_lands_where_nodes_launch_the_rest_in_the_pool() -> (
    None
):
    zones = [CeilingZone("eu-west-1a", ["subnet-a"], pool_subnet_ids=["subnet-pods"])]
    cluster = _cluster(
        [
            _subnet("subnet-a", "eu-west-1a", 3, ["nodes"]),
            _subnet("subnet-pods", "eu-west-1a", 55, ["pods"]),
        ],
        [_group("ng", zones)],
        cni={"AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG": "true"},
    )
    [ceiling] = solve(cluster)
    [zone] = ceiling.zones
    # 11 at start-up: 1 of the 3 free where it launches, 10 of the 55 in the pod subnet.
    assert (ceiling.startup_need, zone.need_launch, zone.need_pool) == (11, 1, 10)
    assert (zone.free_launch, zone.free_pool, zone.nodes_possible) == (3, 55, 3)


def test_a_subnet_two_groups_draw_on_is_split_between_them() -> None:
    cluster = _cluster(
        [_subnet("subnet-a", "eu-west-1a", 41, ["nodes", "pods"])],
        [_group("blue", TWO_ZONES[:1]), _group("green", TWO_ZONES[:1])],
    )
    blue, green = solve(cluster)
    # 21 and 20 of 41: 2 nodes each, never 4 twice.
    assert (blue.zones[0].free_launch, green.zones[0].free_launch) == (21, 20)
    assert (blue.nodes_possible, green.nodes_possible) == (2, 2)


def test_prefix_delegation_is_bounded_by_free_blocks() -> None:
    cluster = _cluster(
        [_subnet("subnet-a", "eu-west-1a", 200, ["nodes", "pods"], blocks=2)],
        [_group("ng", TWO_ZONES[:1])],
        cni={"ENABLE_PREFIX_DELEGATION": "true"},
    )
    [ceiling] = solve(cluster)
    [zone] = ceiling.zones
    # 200 // 17 = 11 by addresses; 2 blocks, one per node.
    assert (zone.need_launch, zone.need_prefix_blocks, zone.nodes_possible) == (17, 1, 2)


def test_pods_that_fit_are_warm_addresses_then_whole_enis_the_subnet_can_hold() -> None:
    cluster = _cluster(
        [_subnet("subnet-a", "eu-west-1a", 7, ["nodes", "pods"])],
        [_group("ng", TWO_ZONES[:1])],
        nodes=[_node("subnet-a", 5), _node("subnet-a", 9)],
    )
    [ceiling] = solve(cluster)
    [room] = ceiling.pods
    # Kubelet: 22 and 18 more; warm: 4 and 0. Each primary ENI is full (9), so more pods need
    # a new ENI, which ipamd creates with 9 addresses (WARM_ENI_TARGET) plus its own: 10 in
    # one subnet, and subnet-a has 7. CreateNetworkInterface fails: only the 4 warm fit.
    assert (room.nodes, room.pods_on_held, room.pods_needing_addresses) == (2, 4, 36)
    assert (room.free, room.pods_fit, ceiling.pods_fit_now) == (7, 4, 4)


def test_under_warm_ip_target_a_new_eni_takes_only_the_shortfall() -> None:
    cluster = _cluster(
        [_subnet("subnet-a", "eu-west-1a", 7, ["nodes", "pods"])],
        [_group("ng", TWO_ZONES[:1])],
        nodes=[_node("subnet-a", 5), _node("subnet-a", 9)],
        cni={"WARM_IP_TARGET": "1"},
    )
    [ceiling] = solve(cluster)
    # WARM_IP_TARGET: a new ENI asks for what is short, so the 7 free go 1 + 6 to the first
    # node's new ENI (its kubelet room is 22: 4 warm + 18 more wanted, 6 obtained) and
    # nothing is left for the second: 4 + 6 = 10.
    assert ceiling.pods_fit_now == 10


def test_what_the_model_does_not_cover_is_said_not_counted() -> None:
    cluster = _cluster(
        [_subnet("subnet-a", "eu-west-1a", 100, ["nodes", "pods"])], [_group("ng", TWO_ZONES[:1])]
    )
    for changed, said in (
        (replace(cluster, network_mode="auto-mode"), "EKS Auto Mode"),
        (replace(cluster, network_mode="vpc-cni-ipv6"), "IPv6"),
        (replace(cluster, cni=None), "aws-node's settings could not be read"),
        (replace(cluster, instance_types={}), "unknown to DescribeInstanceTypes"),
    ):
        [ceiling] = solve(changed)
        assert (ceiling.modelled, ceiling.nodes_possible, ceiling.severity) == (False, None, None)
        assert said in ceiling.note


def test_place_spreads_evenly_and_names_the_zones_that_run_out_first_first() -> None:
    assert place({"a": 5, "b": 5}, 4) == ({"a": 2, "b": 2}, [])
    assert place({"a": 1, "b": 5, "c": 5}, 6) == ({"a": 1, "b": 3, "c": 2}, ["a"])
    assert place({"a": 0, "b": 0, "c": 3}, 10) == ({"a": 0, "b": 0, "c": 3}, ["a", "b", "c"])
    assert place({"a": 2, "b": 2}, 4) == ({"a": 2, "b": 2}, [])


def test_subnet_selector_terms_match_by_tags_or_id() -> None:
    subnets = [
        Subnet("subnet-a", "vpc", "10.0.0.0/24", "a", 1, tags={"karpenter.sh/discovery": "shop"}),
        Subnet("subnet-b", "vpc", "10.0.1.0/24", "b", 1, tags={"tier": "private-2"}),
        Subnet("subnet-c", "vpc", "10.0.2.0/24", "c", 1),
    ]
    terms = [
        SubnetSelectorTerm(tags={"karpenter.sh/discovery": "shop"}),
        SubnetSelectorTerm(tags={"tier": "private-*"}),
        SubnetSelectorTerm(subnet_id="subnet-c"),
    ]
    assert [s.subnet_id for s in selected_subnets(terms[:1], subnets)] == ["subnet-a"]
    assert [s.subnet_id for s in selected_subnets(terms, subnets)] == [
        "subnet-a",
        "subnet-b",
        "subnet-c",
    ]


def test_kubernetes_quantities() -> None:
    assert (quantity("1000"), quantity("500m"), quantity("2Gi"), quantity("lots")) == (
        1000.0,
        0.5,
        2.0 * 2**30,
        None,
    )
