"""One capacity model under every answer, through the whole audit: moto over HTTP and local
Kubernetes APIs, one cluster per case, each in its own VPC; then `ipaudit what-if` on the
stored report. Every node is an m5.large (3 ENIs x 10 addresses, 9 for pods each; kubelet's
max pods 29, 27 with a VPC address). aws-node v1.23.1 with its defaults (WARM_ENI_TARGET=1):
a new node fills its primary ENI, 1 + 9 = 10 addresses. Every number below is counted by
hand from shared/domain/vpc-cni-subnet-discovery.md and the addresses given.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from ipaudit_sim.aws import MotoServer
from ipaudit_sim.kube_api import aws_node_daemonset, node_pool_object
from ipaudit_sim.seed import SeededCluster, add_node_group
from tests.integration.cluster_builder import (
    add_node,
    audit_json,
    eks_cluster,
    interface,
    kube,
    moto_environment,
)

REGION = "eu-west-1"
A, B = "eu-west-1a", "eu-west-1b"
CNI_TAG = "kubernetes.io/role/cni"


def _hosts(prefix: str, first: int, count: int) -> list[str]:
    return [f"{prefix}.{host}" for host in range(first, first + count)]


class World:
    def __init__(self, session: boto3.Session) -> None:
        self.session = session
        self.ec2, self.eks = session.client("ec2"), session.client("eks")
        self.clusters: dict[str, SeededCluster] = {}
        self.ids: dict[str, str] = {}
        self.node_pools: dict[str, list[dict[str, Any]]] = {}

    def vpc(self, octet: int) -> str:
        vpc: str = self.ec2.create_vpc(CidrBlock=f"10.{octet}.0.0/16")["Vpc"]["VpcId"]
        self.ec2.associate_vpc_cidr_block(VpcId=vpc, CidrBlock="100.64.0.0/16")
        return vpc

    def subnet(self, key: str, vpc: str, cidr: str, zone: str = A, cni: str | None = None) -> str:
        tags = (
            []
            if cni is None
            else [{"ResourceType": "subnet", "Tags": [{"Key": CNI_TAG, "Value": cni}]}]
        )
        subnet_id: str = self.ec2.create_subnet(
            VpcId=vpc, CidrBlock=cidr, AvailabilityZone=zone, TagSpecifications=tags
        )["Subnet"]["SubnetId"]
        self.ids[key] = subnet_id
        return subnet_id

    def cluster(
        self, name: str, vpc: str, config: list[str], env: dict[str, str] | None = None
    ) -> SeededCluster:
        eks_cluster(self.eks, name, config)
        seeded = SeededCluster(name, vpc, config)
        seeded.kube_daemonsets.append(aws_node_daemonset(env or {}, version="v1.23.1"))
        self.clusters[name] = seeded
        return seeded

    def fill(self, subnet_id: str, addresses: list[str]) -> None:
        interface(self.ec2, subnet_id, addresses, "something else")


def _seed(world: World) -> None:
    ids = world.ids

    # untagged: discovery on, the launch subnet untagged with 40 free, a tagged /22 beside it.
    # A new node fills its primary ENI from where it launches: 10 there, so 4 start, not 40.
    vpc = world.vpc(110)
    world.subnet("untagged_p", vpc, "10.110.0.0/24")
    world.subnet("untagged_a", vpc, "100.64.0.0/22", cni="1")
    seeded = world.cluster("untagged", vpc, [ids["untagged_p"]])
    primary = _hosts("10.110.0", 4, 10)
    add_node(
        world.ec2, seeded, subnet_id=ids["untagged_p"], primary=primary, enis=[], pods=primary[1:6]
    )
    world.fill(ids["untagged_p"], _hosts("10.110.0", 14, 201))  # 251 - 10 - 201 = 40 free
    add_node_group(world.session, seeded, "untagged-ng", instance_type="m5.large", max_size=20)

    # twoslots: discovery off; two launch subnets of one zone, 15 free each: one node each.
    vpc = world.vpc(120)
    world.subnet("two_p", vpc, "10.120.0.0/24")
    world.subnet("two_q", vpc, "10.120.1.0/24")
    seeded = world.cluster(
        "twoslots", vpc, [ids["two_p"], ids["two_q"]], env={"ENABLE_SUBNET_DISCOVERY": "false"}
    )
    primary = _hosts("10.120.0", 4, 10)
    add_node(world.ec2, seeded, subnet_id=ids["two_p"], primary=primary, enis=[], pods=primary[1:])
    world.fill(ids["two_p"], _hosts("10.120.0", 14, 226))  # 251 - 10 - 226 = 15
    world.fill(ids["two_q"], _hosts("10.120.1", 4, 236))  # 251 - 236 = 15
    add_node_group(world.session, seeded, "two-ng", instance_type="m5.large", max_size=10)

    # fullgrow: the node's primary ENI (4 of 9 pod addresses) sits in a subnet at 0 free; the
    # tagged subnet has room. Its empty slots cannot be filled where the ENI is: its 23 more
    # pods of kubelet room get 2 new ENIs of 9 in the tagged subnet, 18, not 5 + 18.
    vpc = world.vpc(130)
    world.subnet("full_p", vpc, "10.130.0.0/24")
    world.subnet("full_a", vpc, "100.64.0.0/24", cni="1")
    seeded = world.cluster("fullgrow", vpc, [ids["full_p"]])
    primary = _hosts("10.130.0", 4, 5)
    add_node(world.ec2, seeded, subnet_id=ids["full_p"], primary=primary, enis=[], pods=primary[1:])
    world.fill(ids["full_p"], _hosts("10.130.0", 9, 246))  # 251 - 5 - 246 = 0
    add_node_group(world.session, seeded, "full-ng", instance_type="m5.large", max_size=1)

    # offzero: discovery off, the node subnet tagged =0 (v1.22+ refuses every new ENI then);
    # its primary ENI (5 of 9) may still grow in its own subnet: 4 more pods, not 22.
    vpc = world.vpc(140)
    world.subnet("off_p", vpc, "10.140.0.0/24", cni="0")
    seeded = world.cluster("offzero", vpc, [ids["off_p"]], env={"ENABLE_SUBNET_DISCOVERY": "false"})
    primary = _hosts("10.140.0", 4, 6)
    add_node(world.ec2, seeded, subnet_id=ids["off_p"], primary=primary, enis=[], pods=primary[1:])
    add_node_group(world.session, seeded, "off-ng", instance_type="m5.large", max_size=1)

    # zoned: a NodePool whose requirements allow eu-west-1b only; its EC2NodeClass selects a
    # subnet in each zone. eu-west-1a's /24 has 251 free, eu-west-1b's 25: 2 nodes, not 27.
    vpc = world.vpc(150)
    world.subnet("zoned_a", vpc, "10.150.0.0/24")
    world.subnet("zoned_b", vpc, "10.150.1.0/24", zone=B)
    seeded = world.cluster("zoned", vpc, [ids["zoned_a"], ids["zoned_b"]])
    world.fill(ids["zoned_b"], _hosts("10.150.1", 4, 226))  # 251 - 226 = 25
    pool = node_pool_object("zonal", "default", instance_types=["m5.large"])
    pool["spec"]["template"]["spec"]["requirements"].append(
        {"key": "topology.kubernetes.io/zone", "operator": "In", "values": [B]}
    )
    world.node_pools["zoned"] = [pool]

    # warm: two nodes with warm addresses (4 and 9); 10 more pods fit on what they hold.
    vpc = world.vpc(160)
    world.subnet("warm_p", vpc, "10.160.0.0/24")
    seeded = world.cluster("warm", vpc, [ids["warm_p"]])
    for first, pods in ((4, 5), (14, 0)):
        primary = _hosts("10.160.0", first, 10)
        add_node(
            world.ec2,
            seeded,
            subnet_id=ids["warm_p"],
            primary=primary,
            enis=[],
            pods=primary[1 : 1 + pods],
        )


@pytest.fixture(scope="module")
def world_report(moto_server: MotoServer) -> Iterator[tuple[World, dict[str, Any], dict[str, str]]]:
    with moto_environment(moto_server, REGION) as env:
        world = World(boto3.Session(region_name=REGION))
        _seed(world)
        servers = {}
        for name, seeded in world.clusters.items():
            server = kube(seeded)
            if name in world.node_pools:
                from ipaudit_sim.kube_api import ec2_node_class_object

                server.karpenter = True
                server.node_pools = world.node_pools[name]
                server.node_classes = [
                    ec2_node_class_object(
                        "default",
                        [{"id": world.ids["zoned_a"]}, {"id": world.ids["zoned_b"]}],
                    )
                ]
            servers[name] = server
        yield world, audit_json(env, env["AWS_ENDPOINT_URL"], servers), env


def _cluster(report: dict[str, Any], name: str) -> dict[str, Any]:
    [found] = [c for c in report["clusters"] if c["name"] == name]
    return found


def _ceiling(report: dict[str, Any], name: str) -> dict[str, Any]:
    [ceiling] = _cluster(report, name)["ceilings"]
    return ceiling


def _what_if(
    env: dict[str, str], report: dict[str, Any], tmp: Path, *args: str
) -> tuple[int, dict[str, Any]]:
    path = tmp / "report.json"
    path.write_text(json.dumps(report))
    done = subprocess.run(
        [sys.executable, "-m", "ipaudit", "what-if", "--report", str(path), "--json", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode in (0, 3), done.stderr
    return done.returncode, json.loads(done.stdout)


def test_an_untagged_launch_subnet_is_charged_the_ten_its_primary_eni_takes(
    world_report: tuple[World, dict[str, Any], dict[str, str]], tmp_path: Path
) -> None:
    world, report, env = world_report
    ceiling = _ceiling(report, "untagged")
    # MaxSize 20 with 1 node: 19 wanted; 40 free at 10 per node start 4.
    assert (ceiling["startup_need"], ceiling["nodes_wanted"], ceiling["nodes_possible"]) == (
        10,
        19,
        4,
    )
    [zone] = ceiling["zones"]
    assert zone["nodes_by_subnet"] == {world.ids["untagged_p"]: 4}
    [finding] = [f for f in report["findings"] if f["resource"] == world.ids["untagged_p"]]
    # 40 of 251 free (15.9%): a warning that counts the same 4 nodes as the ceiling.
    assert finding["severity"] == "WARNING"
    assert "4 more m5.large nodes can launch in it" in finding["message"]
    # A scale-out of 5 stops at the 5th node: --check fails it.
    code, answer = _what_if(
        env,
        report,
        tmp_path,
        "--check",
        "{}",
        "--add-nodes",
        "5",
        "--type",
        "m5.large",
        "--group",
        "untagged-ng",
    )
    assert code == 3
    [result] = answer["answers"]
    assert (result["nodes_started"], result["nodes_not_started"]) == (4, 1)


def test_two_launch_subnets_of_fifteen_start_two_nodes_not_three(
    world_report: tuple[World, dict[str, Any], dict[str, str]],
) -> None:
    world, report, _ = world_report
    ceiling = _ceiling(report, "twoslots")
    assert ceiling["nodes_possible"] == 2
    [zone] = ceiling["zones"]
    assert zone["nodes_by_subnet"] == {world.ids["two_p"]: 1, world.ids["two_q"]: 1}


def test_an_eni_in_a_full_subnet_is_not_grown(
    world_report: tuple[World, dict[str, Any], dict[str, str]],
) -> None:
    _, report, _ = world_report
    ceiling = _ceiling(report, "fullgrow")
    # Kubelet room 27 - 4 = 23; warm 0; 2 new ENIs of 9 in the tagged subnet: 18.
    assert ceiling["pods_fit_now"] == 18


def test_discovery_off_with_the_node_subnet_tagged_zero_refuses_new_enis(
    world_report: tuple[World, dict[str, Any], dict[str, str]],
) -> None:
    world, report, _ = world_report
    cluster = _cluster(report, "offzero")
    assert cluster["eni_subnets"] == {world.ids["off_p"]: []}
    # The primary holds 5 of 9 with 5 pods: it grows by 4 in its own subnet; no new ENI.
    assert _ceiling(report, "offzero")["pods_fit_now"] == 4


def test_a_nodepool_counts_only_the_zones_its_requirements_allow(
    world_report: tuple[World, dict[str, Any], dict[str, str]],
) -> None:
    _, report, _ = world_report
    ceiling = _ceiling(report, "zoned")
    assert [z["az"] for z in ceiling["zones"]] == [B]
    assert ceiling["nodes_possible"] == 2  # 25 free at 10 per node
    assert any("zones limited to eu-west-1b" in note for note in ceiling["read_notes"])


def test_new_pods_land_on_warm_addresses_first(
    world_report: tuple[World, dict[str, Any], dict[str, str]], tmp_path: Path
) -> None:
    _, report, env = world_report
    code, answer = _what_if(env, report, tmp_path, "--cluster", "warm", "--add-pods", "10")
    [result] = answer["answers"]
    # 4 + 9 warm hold 10 more pods: none pending, and the nodes hold 20 now, as reported.
    assert (code, result["pods_placed"], result["pending_pods"]) == (0, 10, 0)
    assert result["ips_held_now"] == 20
