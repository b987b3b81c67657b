"""Every address accounted for, on every cluster shape: the audit against the moto server (behind
a proxy answering what moto's EKS cannot) and local Kubernetes APIs, one test per shape, each
with the numbers a person counts by hand. On every subnet of every test the attribution sums to
`usable - free`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from ipaudit.audit import run_audit
from ipaudit.settings import Settings
from ipaudit_sim.aws import MotoServer
from ipaudit_sim.eks_proxy import EksProxy
from ipaudit_sim.kube_api import (
    KubeApiServer,
    eni_config_object,
    pod_object,
    sandbox_failure_event,
)
from ipaudit_sim.seed import NodeSpec, SeededCluster, SubnetSpec, seed_cluster
from ipaudit_sim.shapes import (
    add_eni,
    add_fargate_pods,
    add_security_groups_for_pods,
    add_service_enis,
    set_instance_type,
)

AZ, AZ_B = "eu-west-1a", "eu-west-1b"
ACCOUNT = "123456789012"


class Shapes:
    """Seeded clusters, their Kubernetes APIs, and the audit of them all."""

    def __init__(self, session: boto3.Session, proxy: EksProxy) -> None:
        self.session = session
        self.proxy = proxy
        self.servers: dict[str, KubeApiServer] = {}
        self.endpoints: dict[str, str] = {}

    def serve(self, cluster: SeededCluster, *, up: bool = True) -> KubeApiServer:
        server = KubeApiServer(cluster.name)
        server.nodes, server.pods = cluster.kube_nodes, cluster.kube_pods
        server.daemonsets, server.events = cluster.kube_daemonsets, cluster.kube_events
        server.eni_configs = cluster.eni_configs
        self.endpoints[cluster.name] = server.start()
        if up:
            self.servers[cluster.name] = server
        else:
            server.stop()  # its API is down: connections are refused
        return server

    def audit(self) -> dict[str, Any]:
        endpoints = ",".join(f"{name}={url}" for name, url in self.endpoints.items())
        settings = Settings.from_env({"IPAUDIT_KUBE_ENDPOINTS": endpoints})
        report = run_audit(settings, boto3.Session(region_name="eu-west-1")).to_dict()
        for cluster in report["clusters"]:
            for subnet in cluster["subnets"]:
                used = subnet["usable"] - subnet["free"]
                assert sum(subnet["addresses"].values()) == used, (cluster["name"], subnet)
                assert min(subnet["addresses"].values()) >= 0
        return report

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()


@pytest.fixture
def shapes(
    aws: boto3.Session, moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Shapes]:
    proxy = EksProxy(moto_server.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.start())
    world = Shapes(aws, proxy)
    yield world
    world.stop()
    proxy.stop()


def cluster(report: dict[str, Any], name: str) -> dict[str, Any]:
    [found] = [c for c in report["clusters"] if c["name"] == name]
    return found


def held(subnet: dict[str, Any]) -> dict[str, int]:
    """The attribution without the owners holding nothing."""
    return {owner: count for owner, count in subnet["addresses"].items() if count}


def findings(report: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [f for f in report["findings"] if f["kind"] == kind]


def test_security_groups_for_pods_branch_enis_count_for_their_node_not_its_warm_pool(
    shapes: Shapes,
) -> None:
    # One m5.large: its primary ENI holds 10 (3 pods on secondary addresses), a trunk holds 1,
    # 5 pods sit on branch ENIs, and one branch ENI was left behind, detached.
    sgp = seed_cluster(
        shapes.session,
        name="sgp",
        vpc_cidr="10.40.0.0/16",
        subnets=[SubnetSpec("10.40.0.0/24", AZ)],
        nodes=[NodeSpec(subnet=0, eni_addresses=(10,), pods=3, instance_type="m5.large")],
        cni_env={"ENABLE_POD_ENI": "true"},
    )
    add_security_groups_for_pods(
        shapes.session, sgp, node=0, subnet=0, branch_pods=5, trunk_device=1, available_branches=1
    )
    shapes.serve(sgp)

    report = cluster(shapes.audit(), "sgp")

    [node] = report["nodes"]
    assert (node["enis"], node["branch_enis"], node["ips_held"], node["secondary_ips"]) == (
        2,
        5,
        16,
        9,
    )
    assert (node["pods"], node["warm_ips"]) == (8, 6)  # was 11 held, 1 warm
    [subnet] = report["subnets"]
    assert (subnet["usable"], subnet["free"]) == (251, 234)
    assert held(subnet) == {"node_primary": 1, "pods": 3, "warm": 6, "branch": 6, "leaked": 1}
    [leak] = report["leaked_enis"]
    assert leak["ips"] == 1  # an available branch ENI is a leak too


def test_fargate_pods_count_and_their_addresses_are_attributed(shapes: Shapes) -> None:
    serverless = seed_cluster(
        shapes.session,
        name="serverless",
        vpc_cidr="10.41.0.0/16",
        subnets=[SubnetSpec("10.41.0.0/24", AZ)],
        nodes=[],
    )
    add_fargate_pods(shapes.session, serverless, 0, AZ, 3)
    shapes.serve(serverless)

    audit = shapes.audit()
    report = cluster(audit, "serverless")

    assert (report["pods"], report["fargate_pods"], report["warm_ips"]) == (3, 3, 0)
    assert (report["nodes"], report["ips_held"]) == ([], 0)
    [subnet] = report["subnets"]
    assert (subnet["free"], held(subnet)) == (248, {"fargate": 3})
    assert subnet["roles"] == ["control-plane"]
    assert findings(audit, "subnet_headroom") == []


def test_a_cluster_without_aws_node_is_attributed_and_labelled_not_modelled(
    shapes: Shapes,
) -> None:
    # Calico overlay: two nodes with their primary address only, 80 pods each on overlay IPs.
    calico = seed_cluster(
        shapes.session,
        name="calico",
        vpc_cidr="10.42.0.0/16",
        subnets=[SubnetSpec("10.42.0.0/24", AZ)],
        nodes=[NodeSpec(subnet=0, eni_addresses=(1,), pods=0, instance_type="m5.large")] * 2,
        aws_node=False,
    )
    for n, name in enumerate(calico.node_names):
        calico.kube_pods += [
            pod_object("web", f"web-{n}-{p}", name, f"192.168.{n}.{p + 2}") for p in range(80)
        ]
    shapes.serve(calico)

    audit = shapes.audit()
    report = cluster(audit, "calico")

    assert (report["network_mode"], report["cni"]) == ("other-cni", None)
    # Nothing is proposed for a component that is not there (issue 9): not modelled, no command.
    rec = report["recommendation"]
    assert (rec["kind"], rec["command"], rec["settings"], rec["ips_returned"]) == (
        "not-modelled",
        "",
        {},
        0,
    )
    assert (report["ips_held"], report["pods"], report["warm_ips"]) == (2, 160, None)
    assert [(n["pods"], n["warm_ips"], n["aws_node"]) for n in report["nodes"]] == [
        (80, None, False)
    ] * 2
    [subnet] = report["subnets"]
    assert (subnet["free"], held(subnet)) == (249, {"node_primary": 2})
    assert [f for f in audit["findings"] if f["cluster"] == "calico"] == []


def test_auto_mode_nodes_are_found_by_their_tag_with_kubernetes_down_and_not_modelled(
    shapes: Shapes,
) -> None:
    # A /28 (11 usable) with one Auto Mode node holding 4: 7 free. Under aws-node's defaults a
    # new m5.large would need 10 there; Auto Mode is not aws-node, so no such CRITICAL.
    auto = seed_cluster(
        shapes.session,
        name="auto",
        vpc_cidr="10.43.0.0/16",
        subnets=[SubnetSpec("10.43.0.0/28", AZ)],
        nodes=[
            NodeSpec(
                subnet=0,
                eni_addresses=(4,),
                pods=0,
                instance_type="m5.large",
                tags={"eks:eks-cluster-name": "auto"},
            )
        ],
        aws_node=False,
    )
    shapes.proxy.clusters["auto"] = {"computeConfig": {"enabled": True, "nodePools": ["system"]}}
    shapes.serve(auto, up=False)

    audit = shapes.audit()
    report = cluster(audit, "auto")

    assert (report["network_mode"], report["cni"], report["pods"]) == ("auto-mode", None, None)
    [node] = report["nodes"]
    assert (node["instance_id"], node["ips_held"], node["aws_node"]) == (
        auto.instance_ids[0],
        4,
        False,
    )
    [subnet] = report["subnets"]
    assert (subnet["usable"], subnet["free"], held(subnet)) == (
        11,
        7,
        {"node_primary": 1, "other": 3},
    )
    assert findings(audit, "subnet_headroom") == []


def test_a_subnet_two_clusters_share_is_attributed_from_each_and_raised_once(
    shapes: Shapes,
) -> None:
    # A /27 (27 usable): blue's node holds 10 (4 pods), green's 8 (2 pods), an ALB 2: 7 free,
    # less than the 10 a new m5.large takes.
    spec = [SubnetSpec("10.44.0.0/27", AZ)]
    blue = seed_cluster(
        shapes.session,
        name="blue",
        vpc_cidr="10.44.0.0/16",
        subnets=spec,
        nodes=[NodeSpec(subnet=0, eni_addresses=(10,), pods=4, instance_type="m5.large")],
    )
    green = seed_cluster(
        shapes.session,
        name="green",
        vpc_cidr="",
        subnets=spec,
        nodes=[NodeSpec(subnet=0, eni_addresses=(8,), pods=2, instance_type="m5.large")],
        sharing=blue,
    )
    add_service_enis(shapes.session, blue, 0, [("ELB app/web/50dc6c495c0c9188", "interface", 2)])
    shapes.serve(blue)
    shapes.serve(green)

    audit = shapes.audit()

    [from_blue] = cluster(audit, "blue")["subnets"]
    [from_green] = cluster(audit, "green")["subnets"]
    assert from_blue["free"] == from_green["free"] == 7
    assert from_blue["clusters"] == from_green["clusters"] == ["blue", "green"]
    assert held(from_blue) == {
        "node_primary": 1,
        "pods": 4,
        "warm": 5,
        "other_clusters": 8,
        "load_balancers": 2,
    }
    assert held(from_green) == {
        "node_primary": 1,
        "pods": 2,
        "warm": 5,
        "other_clusters": 10,
        "load_balancers": 2,
    }
    [finding] = findings(audit, "subnet_headroom")
    subnet_id = blue.subnet_ids[0]
    assert finding["id"] == f"subnet_headroom:{ACCOUNT}:eu-west-1:-:{subnet_id}"
    assert (finding["severity"], finding["cluster"], finding["resource"]) == (
        "CRITICAL",
        None,
        subnet_id,
    )
    assert "a new m5.large node needs 10" in finding["message"]
    assert "clusters drawing on it: blue, green" in finding["message"]


def test_custom_networking_charges_a_new_node_to_its_subnet_and_its_zones_eniconfig_subnet(
    shapes: Shapes,
) -> None:
    # Node subnet /28: the node's primary (1 used, 10 free). ENIConfig subnet /28: the node's
    # pod ENI with 10 (6 pods), 1 free. A new m5.large takes 1 + 10: 1 in the node subnet (no
    # false CRITICAL there), 10 in the ENIConfig subnet (a true one).
    env = {
        "AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG": "true",
        "ENI_CONFIG_LABEL_DEF": "topology.kubernetes.io/zone",
    }
    custom = seed_cluster(
        shapes.session,
        name="custom",
        vpc_cidr="10.45.0.0/16",
        subnets=[SubnetSpec("10.45.0.0/28", AZ), SubnetSpec("10.45.1.0/28", AZ)],
        nodes=[NodeSpec(subnet=0, eni_addresses=(1,), pods=0, instance_type="m5.large")],
        cni_env=env,
        config_subnets=[0],
    )
    instance = custom.instance_ids[0]
    eni, ips = add_eni(
        shapes.session,
        custom,
        1,
        10,
        description=f"aws-K8S-{instance}",
        tags={"node.k8s.amazonaws.com/instance_id": instance},
    )
    shapes.session.client("ec2").attach_network_interface(
        NetworkInterfaceId=eni, InstanceId=instance, DeviceIndex=1
    )
    custom.kube_pods += [
        pod_object("app", f"app-{n}", custom.node_names[0], ip) for n, ip in enumerate(ips[1:7])
    ]
    custom.eni_configs.append(eni_config_object(AZ, custom.subnet_ids[1]))
    shapes.serve(custom)

    audit = shapes.audit()
    report = cluster(audit, "custom")

    nodes_subnet, pods_subnet = sorted(report["subnets"], key=lambda s: s["cidr"])
    assert (nodes_subnet["roles"], nodes_subnet["free"]) == (["nodes", "control-plane"], 10)
    assert (pods_subnet["roles"], pods_subnet["free"]) == (["pods"], 1)
    assert held(nodes_subnet) == {"node_primary": 1}
    assert held(pods_subnet) == {"node_primary": 1, "pods": 6, "warm": 3}
    [finding] = findings(audit, "subnet_headroom")
    assert finding["resource"] == custom.subnet_ids[1]
    assert finding["severity"] == "CRITICAL"
    assert "a new m5.large node needs 10 at start-up" in finding["message"]


def test_control_plane_only_subnets_are_held_to_what_eks_needs_not_to_a_nodes_need(
    shapes: Shapes,
) -> None:
    # Two dedicated /28 control-plane subnets (11 usable): one with EKS's 2 ENIs (9 free, fine,
    # though a new m5.8xlarge takes 30), one with 7 addresses used (4 free, fewer than the 6
    # EKS requires).
    plane = seed_cluster(
        shapes.session,
        name="plane",
        vpc_cidr="10.46.0.0/16",
        subnets=[
            SubnetSpec("10.46.0.0/24", AZ),
            SubnetSpec("10.46.1.0/28", AZ),
            SubnetSpec("10.46.2.0/28", AZ_B),
        ],
        nodes=[NodeSpec(subnet=0, eni_addresses=(10,), pods=5)],
    )
    eks_eni = ("Amazon EKS plane", "interface", 1)
    add_service_enis(shapes.session, plane, 1, [eks_eni] * 2)
    add_service_enis(shapes.session, plane, 2, [eks_eni] * 7)
    shapes.serve(plane)

    audit = shapes.audit()
    report = cluster(audit, "plane")

    nodes, roomy, tight = sorted(report["subnets"], key=lambda s: s["cidr"])
    assert nodes["roles"] == ["nodes", "pods", "control-plane"]
    assert roomy["roles"] == tight["roles"] == ["control-plane"]
    assert (roomy["free"], held(roomy)) == (9, {"eks_control_plane": 2})
    assert (tight["free"], held(tight)) == (4, {"eks_control_plane": 7})
    [finding] = findings(audit, "subnet_headroom")
    assert (finding["resource"], finding["severity"]) == (tight["subnet_id"], "CRITICAL")
    assert "EKS needs at least 6 for its control plane" in finding["message"]


def test_with_kubernetes_down_nodes_are_found_by_node_group_and_auto_mode_tag(
    shapes: Shapes,
) -> None:
    # Three instances, none with the usual node tags: one in the node group's Auto Scaling group
    # (5 addresses), one Auto Mode node (1), one that is not the cluster's at all (1).
    found = seed_cluster(
        shapes.session,
        name="found",
        vpc_cidr="10.47.0.0/16",
        subnets=[SubnetSpec("10.47.0.0/24", AZ)],
        nodes=[
            NodeSpec(subnet=0, eni_addresses=(5,), pods=0, instance_type="m5.large", tags={}),
            NodeSpec(
                subnet=0,
                eni_addresses=(1,),
                pods=0,
                instance_type="m5.large",
                tags={"eks:eks-cluster-name": "found"},
            ),
            NodeSpec(subnet=0, eni_addresses=(1,), pods=0, instance_type="m5.large", tags={}),
        ],
    )
    eks = shapes.session.client("eks")
    eks.create_nodegroup(
        clusterName="found",
        nodegroupName="workers",
        nodeRole=f"arn:aws:iam::{ACCOUNT}:role/node",
        subnets=[found.subnet_ids[0]],
    )
    nodegroup = eks.describe_nodegroup(clusterName="found", nodegroupName="workers")
    [group] = nodegroup["nodegroup"]["resources"]["autoScalingGroups"]
    autoscaling = shapes.session.client("autoscaling")
    autoscaling.create_launch_configuration(
        LaunchConfigurationName="workers", ImageId="ami-12c6146b", InstanceType="m5.large"
    )
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=group["name"],
        LaunchConfigurationName="workers",
        MinSize=0,
        MaxSize=3,
        DesiredCapacity=0,
        VPCZoneIdentifier=found.subnet_ids[0],
    )
    autoscaling.attach_instances(
        InstanceIds=[found.instance_ids[0]], AutoScalingGroupName=group["name"]
    )
    shapes.proxy.addons[("found", "vpc-cni")] = {
        "addonName": "vpc-cni",
        "clusterName": "found",
        "addonVersion": "v1.19.2-eksbuild.1",
        "status": "ACTIVE",
    }
    shapes.serve(found, up=False)

    report = cluster(shapes.audit(), "found")

    # The add-on says aws-node runs; its settings cannot be read with Kubernetes down.
    assert (report["network_mode"], report["cni"]) == ("vpc-cni", None)
    assert sorted(n["instance_id"] for n in report["nodes"]) == sorted(found.instance_ids[:2])
    [subnet] = report["subnets"]
    assert (subnet["free"], held(subnet)) == (
        244,
        {"node_primary": 2, "aws_node_unknown": 4, "other": 1},
    )
    assert subnet["roles"] == ["nodes", "pods", "control-plane"]


def test_pods_without_addresses_and_eks_health_are_critical(shapes: Shapes) -> None:
    full = seed_cluster(
        shapes.session,
        name="full",
        vpc_cidr="10.49.0.0/16",
        subnets=[SubnetSpec("10.49.0.0/24", AZ)],
        nodes=[NodeSpec(subnet=0, eni_addresses=(10,), pods=9, instance_type="m5.large")],
    )
    node = full.node_names[0]
    assert node is not None
    now = datetime.now(UTC)
    stamp = (now - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    old = (now - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    full.kube_events += [
        sandbox_failure_event("shop", "cart-1", node, stamp, count=4),
        sandbox_failure_event("shop", "cart-2", node, stamp),
        sandbox_failure_event("shop", "cart-0", node, old),  # long past: not news
    ]
    subnet_id = full.subnet_ids[0]
    shapes.proxy.clusters["full"] = {
        "health": {
            "issues": [
                {
                    "code": "InsufficientFreeAddresses",
                    "message": "One or more of the subnets has too few free IP addresses.",
                    "resourceIds": [subnet_id],
                }
            ]
        }
    }
    shapes.serve(full)

    audit = shapes.audit()

    [starved] = findings(audit, "pods_without_addresses")
    assert (starved["severity"], starved["cluster"], starved["value"]) == ("CRITICAL", "full", 2)
    assert (
        f"2 pods could not get an IP address in the last hour on node {node}"
        in (starved["message"])
    )
    assert "shop/cart-1, shop/cart-2" in starved["message"]
    [health] = findings(audit, "eks_health")
    assert (health["severity"], health["resource"]) == ("CRITICAL", "InsufficientFreeAddresses")
    assert subnet_id in health["message"]


def test_leaks_follow_ipamd_and_free_28_blocks_honour_explicit_reservations(
    shapes: Shapes,
) -> None:
    # A /24: the node holds .4-.13 (5 pods), a CNI ENI created 2 minutes ago holds .14-.15 (being
    # attached), one created an hour ago holds .16-.18 (leaked); .64/26 is reserved explicitly.
    leaky = seed_cluster(
        shapes.session,
        name="leaky",
        vpc_cidr="10.48.0.0/16",
        subnets=[SubnetSpec("10.48.0.0/24", AZ)],
        nodes=[NodeSpec(subnet=0, eni_addresses=(10,), pods=5, instance_type="m5.large")],
    )
    now = datetime.now(UTC)
    for addresses, age in ((2, timedelta(minutes=2)), (3, timedelta(hours=1))):
        add_eni(
            shapes.session,
            leaky,
            0,
            addresses,
            description="aws-K8S-i-0123456789abcdef0",
            tags={
                "node.k8s.amazonaws.com/instance_id": "i-0123456789abcdef0",
                "cluster.k8s.amazonaws.com/name": "leaky",
                "node.k8s.amazonaws.com/createdAt": (now - age).strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
        )
    shapes.session.client("ec2").create_subnet_cidr_reservation(
        SubnetId=leaky.subnet_ids[0], Cidr="10.48.0.64/26", ReservationType="explicit"
    )
    shapes.serve(leaky)

    report = cluster(shapes.audit(), "leaky")

    [subnet] = report["subnets"]
    assert (subnet["free"], held(subnet)) == (
        236,
        {"node_primary": 1, "pods": 5, "warm": 6, "leaked": 3},
    )
    [leak] = report["leaked_enis"]
    assert leak["ips"] == 3
    # 16 blocks: the reserved first and last, .16-.18's block, the explicit reservation's 4.
    assert subnet["free_prefix_blocks"] == 16 - 3 - 4


def test_an_ipv6_only_subnet_an_unknown_type_and_a_cluster_without_aws_node_touch_no_one_else(
    shapes: Shapes,
) -> None:
    steady = seed_cluster(
        shapes.session,
        name="steady",
        vpc_cidr="10.50.0.0/16",
        subnets=[SubnetSpec("10.50.0.0/24", AZ), SubnetSpec("10.50.1.0/24", AZ_B)],
        nodes=[
            NodeSpec(subnet=0, eni_addresses=(10, 10), pods=12, instance_type="m5.large"),
            NodeSpec(subnet=1, eni_addresses=(10,), pods=3, instance_type="m5.large"),
        ],
        leaked_enis=[(1, 4)],
    )
    shapes.serve(steady)
    alone = cluster(shapes.audit(), "steady")

    odd = seed_cluster(
        shapes.session,
        name="odd",
        vpc_cidr="10.51.0.0/16",
        subnets=[SubnetSpec("10.51.0.0/24", AZ)],
        nodes=[NodeSpec(subnet=0, eni_addresses=(10,), pods=4, instance_type="m5.large")],
        aws_node=False,
    )
    set_instance_type(shapes.session, odd.instance_ids[0], "x9.huge")
    ec2 = shapes.session.client("ec2")
    ec2.associate_vpc_cidr_block(VpcId=odd.vpc_id, AmazonProvidedIpv6CidrBlock=True)
    [v6] = ec2.describe_vpcs(VpcIds=[odd.vpc_id])["Vpcs"][0]["Ipv6CidrBlockAssociationSet"]
    ipv6_only = ec2.create_subnet(
        VpcId=odd.vpc_id,
        Ipv6Native=True,
        Ipv6CidrBlock=v6["Ipv6CidrBlock"].replace("::/56", "::/64"),
        AvailabilityZone=AZ,
        TagSpecifications=[
            {"ResourceType": "subnet", "Tags": [{"Key": "kubernetes.io/cluster/odd", "Value": ""}]}
        ],
    )["Subnet"]["SubnetId"]
    shapes.serve(odd)

    audit = shapes.audit()

    assert cluster(audit, "steady") == alone
    report = cluster(audit, "odd")
    assert report["network_mode"] == "other-cni"
    [node] = report["nodes"]
    assert (node["instance_type"], node["max_pods"], node["ips_held"]) == ("x9.huge", None, 10)
    assert [s["subnet_id"] for s in report["subnets"]] == [odd.subnet_ids[0]]
    [entry] = [c for c in audit["coverage"] if c["cluster"] == "odd"]
    assert entry["status"] == "ok"
    assert any(ipv6_only in note and "IPv6-only" in note for note in entry["notes"])
    assert any("x9.huge" in note for note in entry["notes"])


def test_an_ipv6_cluster_takes_one_ipv4_address_per_node_and_keeps_no_warm_pool(
    shapes: Shapes,
) -> None:
    # A /28 (11 usable), two nodes with their IPv4 primary only: 9 free. Under IPv4 a new
    # m5.large would need 10; an IPv6 node takes 1.
    v6 = seed_cluster(
        shapes.session,
        name="v6",
        vpc_cidr="10.52.0.0/16",
        subnets=[SubnetSpec("10.52.0.0/28", AZ)],
        nodes=[NodeSpec(subnet=0, eni_addresses=(1,), pods=0, instance_type="m5.large")] * 2,
        cni_env={"ENABLE_IPv6": "true", "ENABLE_PREFIX_DELEGATION": "true"},
    )
    for n, name in enumerate(v6.node_names):
        v6.kube_pods += [
            pod_object("web", f"web-{n}-{p}", name, f"2a05:d018:1:{n}::{p + 10:x}")
            for p in range(5)
        ]
    shapes.proxy.clusters["v6"] = {"kubernetesNetworkConfig": {"ipFamily": "ipv6"}}
    shapes.serve(v6)

    audit = shapes.audit()
    report = cluster(audit, "v6")

    assert report["network_mode"] == "vpc-cni-ipv6"
    rec = report["recommendation"]
    assert (rec["kind"], rec["command"], rec["ips_returned"]) == ("not-modelled", "", 0)
    assert "one IPv4 address (its primary)" in rec["rationale"]
    assert (report["ips_held"], report["pods"], report["warm_ips"]) == (2, 10, 0)
    [subnet] = report["subnets"]
    assert (subnet["free"], held(subnet)) == (9, {"node_primary": 2})
    assert findings(audit, "subnet_headroom") == []
