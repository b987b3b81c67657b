"""Enhanced subnet discovery (VPC CNI v1.18+) through the whole audit: moto over HTTP (behind a
proxy answering DescribeAddon) and local Kubernetes APIs, one cluster per case, each in its own
VPC. Every node is an m5.large (3 ENIs x 10 addresses, 9 for pods each); every number below is
counted by hand from the addresses given.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from ipaudit_sim.aws import MotoServer
from ipaudit_sim.kube_api import aws_node_daemonset, eni_config_object
from ipaudit_sim.seed import SeededCluster
from tests.integration.cluster_builder import (
    add_node,
    audit_json,
    eks_cluster,
    interface,
    kube,
    moto_environment,
)

REGION = "eu-west-1"
CNI_TAG = "kubernetes.io/role/cni"
ZONE_LABEL = "topology.kubernetes.io/zone"


def _vpc(ec2: Any, cidr: str) -> str:
    vpc: str = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
    ec2.associate_vpc_cidr_block(VpcId=vpc, CidrBlock="100.64.0.0/16")
    return vpc


def _subnet(ec2: Any, vpc: str, cidr: str, zone: str = "eu-west-1a", cni: str | None = None) -> str:
    tags = (
        []
        if cni is None
        else [{"ResourceType": "subnet", "Tags": [{"Key": CNI_TAG, "Value": cni}]}]
    )
    subnet: str = ec2.create_subnet(
        VpcId=vpc, CidrBlock=cidr, AvailabilityZone=zone, TagSpecifications=tags
    )["Subnet"]["SubnetId"]
    return subnet


def _hosts(prefix: str, first: int, count: int) -> list[str]:
    return [f"{prefix}.{host}" for host in range(first, first + count)]


class World:
    """The clusters and the subnet ids each case's assertions name."""

    def __init__(self, session: boto3.Session) -> None:
        self.ec2, self.eks = session.client("ec2"), session.client("eks")
        self.clusters: list[tuple[SeededCluster, list[dict[str, Any]]]] = []
        self.ids: dict[str, str] = {}

    def cluster(
        self,
        name: str,
        vpc: str,
        config: list[str],
        env: dict[str, str] | None = None,
        version: str = "v1.19.2",
        eni_configs: list[dict[str, Any]] | None = None,
    ) -> SeededCluster:
        eks_cluster(self.eks, name, config)
        seeded = SeededCluster(name, vpc, config)
        seeded.kube_daemonsets.append(aws_node_daemonset(env or {}, version=version))
        self.clusters.append((seeded, eni_configs or []))
        return seeded

    def fill(self, subnet: str, addresses: list[str]) -> None:
        interface(self.ec2, subnet, addresses, "something else")


def _seed(world: World) -> None:
    ec2 = world.ec2
    ids = world.ids

    # zonal: eu-west-1a's node subnet is full and a tagged /24 carries its pods; eu-west-1b has
    # no tagged subnet. Node a: 10 + 10 in its own subnet, 10 in the tagged one, 20 pods.
    vpc = _vpc(ec2, "10.10.0.0/16")
    ids["zonal_a"] = _subnet(ec2, vpc, "10.10.0.0/24")
    ids["zonal_b"] = _subnet(ec2, vpc, "10.10.1.0/24", "eu-west-1b")
    ids["zonal_tagged"] = _subnet(ec2, vpc, "100.64.0.0/24", cni="1")
    zonal = world.cluster("zonal", vpc, [ids["zonal_a"], ids["zonal_b"]])
    primary, second = _hosts("10.10.0", 4, 10), _hosts("10.10.0", 14, 10)
    third = _hosts("100.64.0", 4, 10)
    add_node(
        ec2,
        zonal,
        subnet_id=ids["zonal_a"],
        primary=primary,
        enis=[(ids["zonal_a"], second), (ids["zonal_tagged"], third)],
        pods=[*primary[1:], *second[1:], *third[1:3]],
    )
    world.fill(ids["zonal_a"], _hosts("10.10.0", 24, 231))  # 251 - 20 - 231 = 0 free
    primary, second = _hosts("10.10.1", 4, 10), _hosts("10.10.1", 14, 10)
    add_node(
        ec2,
        zonal,
        subnet_id=ids["zonal_b"],
        primary=primary,
        enis=[(ids["zonal_b"], second)],
        pods=[*primary[1:7], *second[1:7]],
        zone="eu-west-1b",
    )

    # excluded: the node subnet is tagged cni=0 (aws-node v1.23.1): the primary ENI holds only
    # the node's address; two ENIs of 10 in the tagged subnet hold its 12 pods.
    vpc = _vpc(ec2, "10.20.0.0/16")
    ids["excluded_node"] = _subnet(ec2, vpc, "10.20.0.0/24", cni="0")
    ids["excluded_pods"] = _subnet(ec2, vpc, "100.64.0.0/24", cni="1")
    excluded = world.cluster("excluded", vpc, [ids["excluded_node"]], version="v1.23.1")
    second, third = _hosts("100.64.0", 4, 10), _hosts("100.64.0", 14, 10)
    add_node(
        ec2,
        excluded,
        subnet_id=ids["excluded_node"],
        primary=["10.20.0.4"],
        enis=[(ids["excluded_pods"], second), (ids["excluded_pods"], third)],
        pods=[*second[1:], *third[1:4]],
    )

    # off: the same tags, ENABLE_SUBNET_DISCOVERY=false: the full node subnet is the pods' too.
    vpc = _vpc(ec2, "10.30.0.0/16")
    ids["off_node"] = _subnet(ec2, vpc, "10.30.0.0/24")
    ids["off_tagged"] = _subnet(ec2, vpc, "100.64.0.0/24", cni="1")
    off = world.cluster("off", vpc, [ids["off_node"]], env={"ENABLE_SUBNET_DISCOVERY": "false"})
    primary, second = _hosts("10.30.0", 4, 10), _hosts("10.30.0", 14, 10)
    add_node(
        ec2,
        off,
        subnet_id=ids["off_node"],
        primary=primary,
        enis=[(ids["off_node"], second)],
        pods=[*primary[1:7], *second[1:7]],
    )
    world.fill(ids["off_node"], _hosts("10.30.0", 24, 231))

    # custom: custom networking and discovery both on: the ENIConfig's subnet, not the tagged.
    vpc = _vpc(ec2, "10.40.0.0/16")
    ids["custom_node"] = _subnet(ec2, vpc, "10.40.0.0/24")
    ids["custom_eniconfig"] = _subnet(ec2, vpc, "100.64.0.0/24")
    ids["custom_tagged"] = _subnet(ec2, vpc, "100.64.4.0/22", cni="1")
    custom_env = {"AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG": "true", "ENI_CONFIG_LABEL_DEF": ZONE_LABEL}
    configs = [eni_config_object("eu-west-1a", ids["custom_eniconfig"])]
    custom = world.cluster("custom", vpc, [ids["custom_node"]], env=custom_env, eni_configs=configs)
    second = _hosts("100.64.0", 4, 10)
    add_node(
        ec2,
        custom,
        subnet_id=ids["custom_node"],
        primary=["10.40.0.4"],
        enis=[(ids["custom_eniconfig"], second)],
        pods=second[1:6],
    )

    # prefix: prefix delegation on; the node subnet has free addresses but no free /28 (one
    # address used in each of its blocks), the tagged subnet has free blocks.
    vpc = _vpc(ec2, "10.50.0.0/16")
    ids["prefix_node"] = _subnet(ec2, vpc, "10.50.0.0/24")
    ids["prefix_tagged"] = _subnet(ec2, vpc, "100.64.0.0/24", cni="1")
    prefix = world.cluster(
        "prefix", vpc, [ids["prefix_node"]], env={"ENABLE_PREFIX_DELEGATION": "true"}
    )
    add_node(ec2, prefix, subnet_id=ids["prefix_node"], primary=["10.50.0.4"], enis=[], pods=[])
    # .4 sits in the first block; one address in each of the other 15 spoils every /28.
    world.fill(ids["prefix_node"], [f"10.50.0.{16 * block + 5}" for block in range(1, 16)])

    # old and tagging: pods alone fill a /24 (8 nodes x 30 held, 27 pods each, 11 more held
    # by something else); an untagged /20 of the same zone has room.
    for name, cidr, version in (("old", "10.60", "v1.16.0"), ("tagging", "10.70", "v1.19.2")):
        vpc = ec2.create_vpc(CidrBlock=f"{cidr}.0.0/16")["Vpc"]["VpcId"]
        ids[f"{name}_node"] = _subnet(ec2, vpc, f"{cidr}.0.0/24")
        ids[f"{name}_room"] = _subnet(ec2, vpc, f"{cidr}.16.0/20")
        seeded = world.cluster(name, vpc, [ids[f"{name}_node"]], version=version)
        for node in range(8):
            enis = [_hosts(f"{cidr}.0", 4 + 30 * node + 10 * eni, 10) for eni in range(3)]
            add_node(
                ec2,
                seeded,
                subnet_id=ids[f"{name}_node"],
                primary=enis[0],
                enis=[(ids[f"{name}_node"], enis[1]), (ids[f"{name}_node"], enis[2])],
                pods=[ip for eni in enis for ip in eni[1:]],
            )
        world.fill(ids[f"{name}_node"], _hosts(f"{cidr}.0", 244, 11))


@pytest.fixture(scope="module")
def world_report(moto_server: MotoServer, denying_proxy: Any) -> Iterator[tuple[World, Any]]:
    with moto_environment(moto_server, REGION) as env:
        world = World(boto3.Session(region_name=REGION))
        _seed(world)
        denying_proxy.addons = {
            ("old", "vpc-cni"): {
                "addonName": "vpc-cni",
                "clusterName": "old",
                "addonVersion": "v1.16.0-eksbuild.1",
                "status": "ACTIVE",
                "configurationValues": "",
            }
        }
        servers = {seeded.name: kube(seeded, configs) for seeded, configs in world.clusters}
        try:
            yield world, audit_json(env, denying_proxy.url, servers)
        finally:
            denying_proxy.addons = {}


def _cluster(report: dict[str, Any], name: str) -> dict[str, Any]:
    [found] = [c for c in report["clusters"] if c["name"] == name]
    return found


def _subnet_of(cluster: dict[str, Any], subnet_id: str) -> dict[str, Any]:
    [found] = [s for s in cluster["subnets"] if s["subnet_id"] == subnet_id]
    return found


def _findings(report: dict[str, Any], cluster: str) -> list[dict[str, Any]]:
    return [f for f in report["findings"] if f["cluster"] == cluster]


def test_a_tagged_subnet_joins_its_zones_pool_and_the_full_node_subnet_blocks_only_new_nodes(
    world_report: tuple[World, Any],
) -> None:
    world, report = world_report
    ids = world.ids
    zonal = _cluster(report, "zonal")
    assert zonal["subnet_discovery"] is True
    assert zonal["cni_version"] == "v1.19.2"
    by_zone = {n["subnet_id"]: n for n in zonal["nodes"]}
    # ipamd's order: most free first; 251 - 10 = 241 in the tagged /24, 0 in the node subnet.
    assert by_zone[ids["zonal_a"]]["pool_subnet_ids"] == [ids["zonal_tagged"], ids["zonal_a"]]
    assert by_zone[ids["zonal_a"]]["pool_subnet_id"] == ids["zonal_tagged"]
    # eu-west-1b has no tagged subnet: its node's own subnet, as before discovery.
    assert by_zone[ids["zonal_b"]]["pool_subnet_ids"] == [ids["zonal_b"]]
    tagged = _subnet_of(zonal, ids["zonal_tagged"])
    assert (tagged["free"], tagged["roles"]) == (241, ["pods"])
    assert _subnet_of(zonal, ids["zonal_a"])["free"] == 0
    subnet_findings = {
        f["resource"]: f for f in _findings(report, "zonal") if "subnet" in f["kind"]
    }
    full = subnet_findings[ids["zonal_a"]]
    assert full["severity"] == "CRITICAL"
    assert "new m5.large nodes cannot launch in it" in full["message"]
    # The zone's pods still have 241 addresses: no pool finding, no finding on the tagged one.
    assert set(subnet_findings) == {ids["zonal_a"]}
    assert not [f for f in report["findings"] if f["kind"] == "pod_pool_headroom"]
    assert {s["subnet_id"] for s in zonal["recommendation"]["subnets"]} == {
        ids["zonal_a"],
        ids["zonal_b"],
        ids["zonal_tagged"],
    }


def test_a_node_subnet_tagged_zero_gives_its_pods_nothing(world_report: tuple[World, Any]) -> None:
    world, report = world_report
    ids = world.ids
    excluded = _cluster(report, "excluded")
    [node] = excluded["nodes"]
    assert node["pool_subnet_ids"] == [ids["excluded_pods"]]
    assert (node["ips_held"], node["pods"], node["warm_ips"]) == (21, 12, 6)
    assert _subnet_of(excluded, ids["excluded_node"])["roles"] == ["nodes", "control-plane"]
    assert _subnet_of(excluded, ids["excluded_pods"])["roles"] == ["pods"]
    # 251 - 20 = 231 free where the pods are; 250 in the node subnet: nothing to warn about.
    assert not [f for f in _findings(report, "excluded") if f["kind"] != "warm_pool_waste"]
    rec = excluded["recommendation"]
    assert [s["subnet_id"] for s in rec["subnets"]] == [ids["excluded_pods"]]
    # Modelled like custom networking: the primary ENI holds no pod address, so the 12 pods
    # need ENIs 2 and 3 (1 + 10 + 10 = 21), as the node holds now.
    assert rec["current_ips_held"] == 21


def test_with_discovery_off_the_tags_change_nothing(world_report: tuple[World, Any]) -> None:
    world, report = world_report
    ids = world.ids
    off = _cluster(report, "off")
    assert off["subnet_discovery"] is False
    assert [n["pool_subnet_ids"] for n in off["nodes"]] == [[ids["off_node"]]]
    assert ids["off_tagged"] not in {s["subnet_id"] for s in off["subnets"]}
    [full] = [f for f in _findings(report, "off") if f["kind"] == "subnet_headroom"]
    # All of a new node's 10 start-up addresses come from its own, full subnet.
    assert full["severity"] == "CRITICAL"
    assert "a new m5.large node needs 10 at start-up" in full["message"]


def test_custom_networking_wins_over_discovery(world_report: tuple[World, Any]) -> None:
    world, report = world_report
    ids = world.ids
    custom = _cluster(report, "custom")
    assert custom["subnet_discovery"] is False
    assert [n["pool_subnet_ids"] for n in custom["nodes"]] == [[ids["custom_eniconfig"]]]
    assert ids["custom_tagged"] not in {
        s["subnet_id"] for s in custom["subnets"] if "pods" in s["roles"]
    }


def test_prefix_delegation_draws_free_blocks_from_the_tagged_subnet(
    world_report: tuple[World, Any],
) -> None:
    world, report = world_report
    ids = world.ids
    prefix = _cluster(report, "prefix")
    node_subnet = _subnet_of(prefix, ids["prefix_node"])
    tagged = _subnet_of(prefix, ids["prefix_tagged"])
    # 251 - 1 - 15 = 235 free addresses but no whole /28; the tagged /24 has all 251 and
    # 16 - 2 blocks (its first and last hold AWS's reserved addresses).
    assert (node_subnet["free"], node_subnet["free_prefix_blocks"]) == (235, 0)
    assert (tagged["free"], tagged["free_prefix_blocks"]) == (251, 14)
    [node] = prefix["nodes"]
    assert node["pool_subnet_ids"] == [ids["prefix_tagged"], ids["prefix_node"]]
    assert not [f for f in _findings(report, "prefix") if f["severity"] == "CRITICAL"]
    rationale = prefix["recommendation"]["rationale"]
    assert "free /28 blocks" not in rationale
    assert "create-subnet-cidr-reservation" not in rationale


def test_an_addon_older_than_v1_18_is_upgraded_before_a_subnet_is_tagged(
    world_report: tuple[World, Any],
) -> None:
    world, report = world_report
    ids = world.ids
    old = _cluster(report, "old")
    assert (old["cni_version"], old["subnet_discovery"]) == ("v1.16.0", False)
    assert {n["pool_subnet_id"] for n in old["nodes"]} == {ids["old_node"]}
    rec = old["recommendation"]
    assert rec["kind"] == "structural"
    lines = rec["command"].splitlines()
    assert lines[0].startswith("VPC_CNI=$(aws eks describe-addon-versions --region eu-west-1 ")
    assert lines[1] == (
        "aws eks update-addon --region eu-west-1 --cluster-name old --addon-name vpc-cni "
        "--addon-version $VPC_CNI --resolve-conflicts PRESERVE"
    )
    # The pods draw 8 x 30 - 8 primaries = 232; the untagged /20 has 4091 free, twice that.
    assert lines[2:] == [
        f"aws ec2 create-tags --region eu-west-1 --resources {ids['old_room']} "
        "--tags Key=kubernetes.io/role/cni,Value=1"
    ]
    assert "older than v1.18" in rec["rationale"]
    assert "ENIConfig" not in rec["command"] and "drain" not in rec["command"]


def test_under_discovery_the_structural_fix_tags_a_subnet_with_room_and_rolls_no_node(
    world_report: tuple[World, Any],
) -> None:
    world, report = world_report
    ids = world.ids
    tagging = _cluster(report, "tagging")
    rec = tagging["recommendation"]
    assert rec["kind"] == "structural"
    assert rec["command"].splitlines() == [
        f"aws ec2 create-tags --region eu-west-1 --resources {ids['tagging_room']} "
        "--tags Key=kubernetes.io/role/cni,Value=1"
    ]
    assert rec["settings"] == {} and rec["ips_returned"] == 0
    assert "The pods' pools gain 4091 addresses: from 0 free to 4091." in rec["rationale"]
    assert {s["subnet_id"]: s["free_after"] for s in rec["subnets"]} == {
        ids["tagging_node"]: 0,
        ids["tagging_room"]: 4091,
    }


def test_attribution_still_sums_to_what_is_used_on_every_subnet(
    world_report: tuple[World, Any],
) -> None:
    _, report = world_report
    for cluster in report["clusters"]:
        for subnet in cluster["subnets"]:
            assert sum(subnet["addresses"].values()) == subnet["usable"] - subnet["free"], (
                cluster["name"],
                subnet["subnet_id"],
            )
