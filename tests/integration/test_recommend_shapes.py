"""Recommendations on the cluster shapes platform teams run, through the whole audit: moto over
HTTP (behind a proxy that answers DescribeAddon, which moto lacks) and local Kubernetes APIs.

Each shape asserts the exact command, and the addresses it returns, worked out by hand.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.ec2.models import ec2_backends

from ipaudit_sim.aws import MotoServer
from ipaudit_sim.kube_api import (
    aws_node_daemonset,
    eni_config_object,
)
from ipaudit_sim.seed import NodeSpec, SeededCluster, SubnetSpec, seed_cluster
from tests.integration.cluster_builder import (
    add_node,
    audit_json,
    eks_cluster,
    interface,
    kube,
    moto_environment,
)

REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's own account
ZONE_LABEL = "topology.kubernetes.io/zone"

# Security groups for pods, network policy, an init setting and resources: all of it must
# survive the update-addon command. YAML, as many users write it.
SHOP_ADDON_CONFIGURATION = """\
env:
  ENABLE_POD_ENI: "true"
  POD_SECURITY_GROUP_ENFORCING_MODE: standard
  AWS_VPC_K8S_CNI_EXTERNALSNAT: "true"
init:
  env:
    DISABLE_TCP_EARLY_DEMUX: "true"
nodeAgent:
  enablePolicyEventLogs: "true"
enableNetworkPolicy: "true"
resources:
  requests:
    cpu: 25m
"""


def _attach_trunks(session: boto3.Session, cluster: SeededCluster, addresses: list[str]) -> None:
    """What the VPC resource controller does with ENABLE_POD_ENI: one trunk ENI per node, in
    the node's last ENI slot (moto's API cannot set the interface type; its backend can)."""
    ec2 = session.client("ec2")
    backend = ec2_backends[ACCOUNT][REGION]
    for instance_id, address in zip(cluster.instance_ids, addresses, strict=True):
        instance = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]
        subnet_id = instance["Instances"][0]["SubnetId"]
        eni_id = ec2.create_network_interface(
            SubnetId=subnet_id,
            Description="trunk network interface",
            PrivateIpAddresses=[{"PrivateIpAddress": address, "Primary": True}],
        )["NetworkInterface"]["NetworkInterfaceId"]
        ec2.attach_network_interface(
            NetworkInterfaceId=eni_id, InstanceId=instance_id, DeviceIndex=2
        )
        backend.enis[eni_id].interface_type = "trunk"


def _seed_custom_networking(
    session: boto3.Session,
) -> tuple[SeededCluster, list[dict[str, Any]]]:
    """Custom networking with a crowded pod subnet: 2 m5.large nodes in 10.60.0.0/24 whose
    primary ENIs hold only their own address, each with two ENIs of 10 addresses in the zone's
    ENIConfig subnet 100.64.0.0/26 (59 usable), 4 pods a node; an interface of something else
    holds 12 more there. The pod subnet has 59 - 40 - 12 = 7 free, the node subnet 249."""
    ec2, eks = session.client("ec2"), session.client("eks")
    vpc = ec2.create_vpc(CidrBlock="10.60.0.0/16")["Vpc"]["VpcId"]
    ec2.associate_vpc_cidr_block(VpcId=vpc, CidrBlock="100.64.0.0/16")
    node_subnet = ec2.create_subnet(
        VpcId=vpc, CidrBlock="10.60.0.0/24", AvailabilityZone="eu-west-1a"
    )["Subnet"]["SubnetId"]
    pod_subnet = ec2.create_subnet(
        VpcId=vpc, CidrBlock="100.64.0.0/26", AvailabilityZone="eu-west-1a"
    )["Subnet"]["SubnetId"]
    eks_cluster(eks, "crowded", [node_subnet])
    env = {"AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG": "true", "ENI_CONFIG_LABEL_DEF": ZONE_LABEL}
    seeded = SeededCluster("crowded", vpc, [node_subnet, pod_subnet])
    seeded.kube_daemonsets.append(aws_node_daemonset(env))
    hosts = iter(range(4, 63))
    for index in range(2):
        enis = [(pod_subnet, [f"100.64.0.{next(hosts)}" for _ in range(10)]) for _ in (1, 2)]
        # 4 pods, two on each ENI: spread, so neither ENI can go.
        pods = [*enis[0][1][1:3], *enis[1][1][1:3]]
        node_ip = [f"10.60.0.{10 + index}"]
        add_node(ec2, seeded, subnet_id=node_subnet, primary=node_ip, enis=enis, pods=pods)
    interface(ec2, pod_subnet, [f"100.64.0.{next(hosts)}" for _ in range(12)], "something else")
    return seeded, [eni_config_object("eu-west-1a", pod_subnet)]


def _seed_shared(session: boto3.Session) -> list[SeededCluster]:
    """Two clusters, blue and green, in one /24 (251 usable): 2 m5.large nodes each, each node
    with its primary ENI and a second one full (10 addresses each) and 4 pods; something else
    holds 110 more. 251 - 80 - 110 = 61 free, shared: 31 for blue, 30 for green."""
    ec2, eks = session.client("ec2"), session.client("eks")
    vpc = ec2.create_vpc(CidrBlock="10.70.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.70.0.0/24", AvailabilityZone="eu-west-1a")[
        "Subnet"
    ]["SubnetId"]
    hosts = iter(range(4, 255))
    clusters = []
    for name in ("blue", "green"):
        eks_cluster(eks, name, [subnet])
        seeded = SeededCluster(name, vpc, [subnet])
        seeded.kube_daemonsets.append(aws_node_daemonset({}))
        for _ in range(2):
            primary = [f"10.70.0.{next(hosts)}" for _ in range(10)]
            second = [f"10.70.0.{next(hosts)}" for _ in range(10)]
            pods = [*primary[1:3], *second[1:3]]  # spread over both ENIs
            add_node(
                ec2, seeded, subnet_id=subnet, primary=primary, enis=[(subnet, second)], pods=pods
            )
        clusters.append(seeded)
    interface(ec2, subnet, [f"10.70.0.{next(hosts)}" for _ in range(110)], "something else")
    return clusters


def _seed_without_aws_node(session: boto3.Session) -> SeededCluster:
    """Cilium in ENI mode: no aws-node DaemonSet; one m5.large node with 2 ENIs of 10."""
    ec2, eks = session.client("ec2"), session.client("eks")
    vpc = ec2.create_vpc(CidrBlock="10.80.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.80.0.0/24", AvailabilityZone="eu-west-1a")[
        "Subnet"
    ]["SubnetId"]
    eks_cluster(eks, "cilium", [subnet])
    seeded = SeededCluster("cilium", vpc, [subnet])
    addresses = [f"10.80.0.{host}" for host in range(20, 30)]
    primary = [f"10.80.0.{host}" for host in range(10, 20)]
    pods = [*primary[1:3], *addresses[1:3]]
    add_node(ec2, seeded, subnet_id=subnet, primary=primary, enis=[(subnet, addresses)], pods=pods)
    return seeded


@pytest.fixture(scope="module")
def audit(moto_server: MotoServer, denying_proxy: Any) -> Iterator[dict[str, Any]]:
    with moto_environment(moto_server, REGION) as env:
        session = boto3.Session(region_name=REGION)
        # Security groups for pods on the managed add-on: 4 m5.large nodes, each with its
        # primary ENI and a second one full (10 addresses each), a trunk, and 3 pods.
        shop = seed_cluster(
            session,
            name="shop",
            vpc_cidr="10.40.0.0/16",
            subnets=[SubnetSpec("10.40.0.0/24", "eu-west-1a")],
            nodes=[
                NodeSpec(subnet=0, eni_addresses=(10, 10), pods=3, instance_type="m5.large")
                for _ in range(4)
            ],
            cni_env={"ENABLE_POD_ENI": "true", "POD_SECURITY_GROUP_ENFORCING_MODE": "standard"},
        )
        _attach_trunks(session, shop, [f"10.40.0.{200 + i}" for i in range(4)])
        # Pods alone fill the subnet, in a VPC that already holds 100.64.0.0/16: 4 m5.large
        # nodes with 3 full ENIs (30 addresses) and 27 pods each in a /25 (123 usable). Subnet
        # discovery is turned off, so the fix is custom networking.
        full = seed_cluster(
            session,
            name="full",
            vpc_cidr="10.50.0.0/16",
            extra_cidrs=["100.64.0.0/16"],
            subnets=[SubnetSpec("10.50.0.0/25", "eu-west-1b")],
            nodes=[
                NodeSpec(subnet=0, eni_addresses=(10, 10, 10), pods=27, instance_type="m5.large")
                for _ in range(4)
            ],
            cni_env={"ENABLE_SUBNET_DISCOVERY": "false"},
        )
        denying_proxy.addons = {
            ("shop", "vpc-cni"): {
                "addonName": "vpc-cni",
                "clusterName": "shop",
                "addonVersion": "v1.19.2-eksbuild.1",
                "status": "ACTIVE",
                "configurationValues": SHOP_ADDON_CONFIGURATION,
            }
        }
        crowded, eni_configs = _seed_custom_networking(session)
        blue, green = _seed_shared(session)
        cilium = _seed_without_aws_node(session)
        servers = {c.name: kube(c) for c in (shop, full, blue, green, cilium)}
        servers["crowded"] = kube(crowded, eni_configs)
        try:
            yield audit_json(env, denying_proxy.url, servers)
        finally:
            denying_proxy.addons = {}


def _cluster(report: dict[str, Any], name: str) -> dict[str, Any]:
    [found] = [c for c in report["clusters"] if c["name"] == name]
    return found


def test_security_groups_for_pods_on_a_managed_addon_keep_their_whole_configuration(
    audit: dict[str, Any],
) -> None:
    shop = _cluster(audit, "shop")
    # Each node: 2 ENIs x 10 and the trunk's address; 18 pool addresses for 3 pods.
    assert [(n["enis"], n["ips_held"], n["pods"]) for n in shop["nodes"]] == [(3, 21, 3)] * 4
    rec = shop["recommendation"]
    # WARM_IP_TARGET=2 with MINIMUM_IP_TARGET=3+2 keeps 5 pool addresses a node: 2 ENIs, the
    # trunk and 5 = 8 held instead of 21 (WARM_IP_TARGET=2 alone costs 1 EC2 call per pod on a
    # burst, over the 0.5 budget).
    assert rec["kind"] == "tune"
    assert rec["settings"] == {"WARM_IP_TARGET": "2", "MINIMUM_IP_TARGET": "5"}
    assert (rec["current_ips_held"], rec["projected_ips_held"], rec["ips_returned"]) == (
        84,
        32,
        52,
    )
    words = shlex.split(rec["command"])
    assert words[:8] == [
        "aws",
        "eks",
        "update-addon",
        "--cluster-name",
        "shop",
        "--addon-name",
        "vpc-cni",
        "--configuration-values",
    ]
    assert json.loads(words[8]) == {
        "env": {
            "ENABLE_POD_ENI": "true",
            "POD_SECURITY_GROUP_ENFORCING_MODE": "standard",
            "AWS_VPC_K8S_CNI_EXTERNALSNAT": "true",
            "WARM_IP_TARGET": "2",
            "MINIMUM_IP_TARGET": "5",
        },
        "init": {"env": {"DISABLE_TCP_EARLY_DEMUX": "true"}},
        "nodeAgent": {"enablePolicyEventLogs": "true"},
        "enableNetworkPolicy": "true",
        "resources": {"requests": {"cpu": "25m"}},
    }
    assert shop["vpc_cni_addon_configuration"] == SHOP_ADDON_CONFIGURATION


def test_a_vpc_that_already_holds_100_64_0_0_16_gets_the_next_free_block(
    audit: dict[str, Any],
) -> None:
    full = _cluster(audit, "full")
    assert full["vpc_cidrs"] == ["10.50.0.0/16", "100.64.0.0/16"]
    [subnet] = full["subnets"]
    assert (subnet["usable"], subnet["free"]) == (123, 3)
    rec = full["recommendation"]
    assert rec["kind"] == "structural"
    # The pods draw 4 x 30 - 4 primaries = 116; twice that is 232: a /24, the first one of
    # 100.64.0.0/10 outside 100.64.0.0/16.
    assert sorted(n["node_name"] for n in full["nodes"]) == sorted(
        f"ip-10-50-0-{4 + 30 * i}.internal" for i in (0, 1, 2, 3)
    )
    vpc = full["vpc_id"]
    assert rec["command"].splitlines() == [
        f"aws ec2 associate-vpc-cidr-block --region eu-west-1 --vpc-id {vpc} "
        "--cidr-block 100.65.0.0/24",
        f"SUBNET_EU_WEST_1B=$(aws ec2 create-subnet --region eu-west-1 --vpc-id {vpc} "
        "--availability-zone eu-west-1b --cidr-block 100.65.0.0/24 --query Subnet.SubnetId "
        "--output text)",
        "kubectl apply -f - <<EOF",
        "apiVersion: crd.k8s.amazonaws.com/v1alpha1",
        "kind: ENIConfig",
        "metadata:",
        "  name: eu-west-1b",
        "spec:",
        "  subnet: $SUBNET_EU_WEST_1B",
        "EOF",
        "kubectl -n kube-system set env daemonset/aws-node "
        "AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG=true ENI_CONFIG_LABEL_DEF=topology.kubernetes.io/zone",
        "# Replace the nodes one at a time, waiting for each replacement (from its node group "
        "or Karpenter) to be Ready:",
        *(
            f"kubectl drain {n['node_name']} --ignore-daemonsets --delete-emptydir-data && "
            f"aws ec2 terminate-instances --region eu-west-1 --instance-ids {n['instance_id']}"
            for n in full["nodes"]
        ),
    ]
    # The nodes' subnet keeps one address per node: 116 of the 120 back.
    assert (rec["current_ips_held"], rec["projected_ips_held"], rec["ips_returned"]) == (
        120,
        4,
        116,
    )
    assert rec["subnets"] == [{"subnet_id": subnet["subnet_id"], "free_now": 3, "free_after": 119}]


def test_custom_networking_is_bounded_by_the_crowded_pod_subnet(audit: dict[str, Any]) -> None:
    crowded = _cluster(audit, "crowded")
    subnets = {s["cidr"]: s for s in crowded["subnets"]}
    node_subnet, pod_subnet = subnets["10.60.0.0/24"], subnets["100.64.0.0/26"]
    assert (pod_subnet["usable"], pod_subnet["free"], node_subnet["free"]) == (59, 7, 249)
    assert {n["pool_subnet_id"] for n in crowded["nodes"]} == {pod_subnet["subnet_id"]}
    rec = crowded["recommendation"]
    # Each node holds 3 primaries + 18 for 4 pods: 42. WARM_IP_TARGET=2 with
    # MINIMUM_IP_TARGET=4+2 keeps 6 pool addresses a node on the same 3 ENIs: 18, so 24 back,
    # all in the pod subnet: 7 -> 31 free. The node subnet's 249 are neither needed nor given.
    assert rec["kind"] == "tune"
    assert rec["command"] == (
        "kubectl -n kube-system set env daemonset/aws-node WARM_IP_TARGET=2 MINIMUM_IP_TARGET=6"
    )
    assert (rec["current_ips_held"], rec["projected_ips_held"], rec["ips_returned"]) == (42, 18, 24)
    assert rec["subnets"] == [
        {"subnet_id": pod_subnet["subnet_id"], "free_now": 7, "free_after": 31}
    ]
    assert "free addresses go from 7 to 31 of 59" in rec["rationale"]


def test_two_clusters_sharing_a_subnet_never_claim_the_same_free_addresses(
    audit: dict[str, Any],
) -> None:
    blue, green = _cluster(audit, "blue"), _cluster(audit, "green")
    [shared] = blue["subnets"]
    assert (shared["usable"], shared["free"], shared["clusters"]) == (251, 61, ["blue", "green"])
    # Each: 2 nodes of 2 ENIs x 10 for 4 pods, 40 held. WARM_IP_TARGET=2 with
    # MINIMUM_IP_TARGET=4+2 keeps 6 pool addresses a node: 16 held, 24 back each.
    for cluster, share in ((blue, 31), (green, 30)):
        rec = cluster["recommendation"]
        assert rec["kind"] == "tune"
        assert rec["command"] == (
            "kubectl -n kube-system set env daemonset/aws-node WARM_IP_TARGET=2 MINIMUM_IP_TARGET=6"
        )
        assert (rec["current_ips_held"], rec["projected_ips_held"], rec["ips_returned"]) == (
            40,
            16,
            24,
        )
        # Free now is the subnet's; after is what this cluster's change gives back to it.
        assert rec["subnets"] == [
            {"subnet_id": shared["subnet_id"], "free_now": 61, "free_after": 85}
        ]
        other = "green" if cluster is blue else "blue"
        assert (
            f"{shared['subnet_id']} is shared with {other}: its 61 free addresses are counted "
            f"once, {share} of them as this cluster's room"
        ) in rec["rationale"]


def test_a_cluster_without_aws_node_gets_no_aws_node_command(audit: dict[str, Any]) -> None:
    cilium = _cluster(audit, "cilium")
    assert (cilium["network_mode"], cilium["cni"]) == ("other-cni", None)
    rec = cilium["recommendation"]
    assert rec["kind"] == "not-modelled"
    assert (rec["command"], rec["settings"], rec["ips_returned"], rec["subnets"]) == ("", {}, 0, [])
    assert rec["projected_ips_held"] == rec["current_ips_held"] == 20
    assert "another CNI hands out the pod addresses" in rec["rationale"]
