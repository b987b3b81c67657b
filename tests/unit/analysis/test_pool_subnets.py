"""Where each node's pods take their addresses: its own subnet, its zone's ENIConfig's, or the
subnets enhanced subnet discovery finds in its zone."""

from __future__ import annotations

from ipaudit.analysis.pool_subnets import pool_subnet_ids
from ipaudit.snapshot import EniConfig, Subnet

CNI = {"kubernetes.io/role/cni": "1"}
SUBNETS = [
    Subnet("subnet-node-a", "vpc-1", "10.0.0.0/24", "eu-west-1a", 200),
    Subnet("subnet-node-b", "vpc-1", "10.0.1.0/24", "eu-west-1b", 200),
    Subnet("subnet-pods-a", "vpc-1", "100.64.0.0/20", "eu-west-1a", 11, tags=CNI),
    Subnet("subnet-pods-b", "vpc-1", "100.64.16.0/20", "eu-west-1b", 4000, tags=CNI),
]
NODES = ["subnet-node-a", "subnet-node-b", "subnet-node-a"]


def test_without_custom_networking_or_discovery_pods_draw_on_the_nodes_own_subnets() -> None:
    configs = [EniConfig("eu-west-1a", "subnet-pods-a")]
    assert pool_subnet_ids(NODES, SUBNETS, custom=False, eni_configs=configs) == [
        [subnet] for subnet in NODES
    ]


def test_under_custom_networking_a_node_draws_on_the_eniconfig_named_after_its_zone() -> None:
    configs = [EniConfig("eu-west-1a", "subnet-pods-a"), EniConfig("eu-west-1b", "subnet-pods-b")]
    pools = pool_subnet_ids(NODES, SUBNETS, custom=True, eni_configs=configs, discovery=False)
    assert pools == [["subnet-pods-a"], ["subnet-pods-b"], ["subnet-pods-a"]]


def test_otherwise_the_only_eniconfig_in_its_zone() -> None:
    # Named by team, not zone: each zone still has exactly one; a zone with none keeps its own.
    configs = [EniConfig("pods-blue", "subnet-pods-a")]
    assert pool_subnet_ids(NODES, SUBNETS, custom=True, eni_configs=configs) == [
        ["subnet-pods-a"],
        ["subnet-node-b"],
        ["subnet-pods-a"],
    ]


def test_under_discovery_the_zones_tagged_subnets_join_its_own_most_free_first() -> None:
    pools = pool_subnet_ids(NODES[:2], SUBNETS, custom=False, eni_configs=(), discovery=True)
    # ipamd sorts by free addresses and gives the node's own subnet no preference.
    assert pools == [["subnet-node-a", "subnet-pods-a"], ["subnet-pods-b", "subnet-node-b"]]


def test_under_discovery_a_primary_subnet_tagged_zero_gives_no_pod_address() -> None:
    excluded = Subnet(
        "subnet-node-a",
        "vpc-1",
        "10.0.0.0/24",
        "eu-west-1a",
        200,
        tags={"kubernetes.io/role/cni": "0"},
    )
    subnets = [excluded, *SUBNETS[1:]]
    pools = pool_subnet_ids(
        ["subnet-node-a"], subnets, custom=False, eni_configs=(), discovery=True
    )
    assert pools == [["subnet-pods-a"]]


def test_with_discovery_off_a_node_subnet_tagged_zero_takes_no_new_eni_from_v1_22() -> None:
    # "primary subnet is tagged with kubernetes.io/role/cni=0 and subnet discovery is
    # disabled - no valid subnets available for ENI creation" (createENI, v1.22.0+).
    tagged = [
        Subnet(
            "subnet-node-a",
            "vpc-1",
            "10.0.0.0/24",
            "eu-west-1a",
            200,
            tags={"kubernetes.io/role/cni": "0"},
        )
    ]
    assert pool_subnet_ids(
        ["subnet-node-a"], tagged, custom=False, eni_configs=[], version=(1, 22, 0)
    ) == [[]]
    assert pool_subnet_ids(
        ["subnet-node-a"], tagged, custom=False, eni_configs=[], version=(1, 21, 0)
    ) == [["subnet-node-a"]]
