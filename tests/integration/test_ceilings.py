"""Scale ceilings and `ipaudit what-if` through the whole audit: moto over HTTP (node groups
with their Auto Scaling groups), local Kubernetes APIs (Karpenter's NodePools and
EC2NodeClasses where installed), one cluster per case, each in its own VPC.

Every node is an m5.large (3 ENIs x 10 addresses, max pods 29). Under aws-node's defaults a new
one holds one ENI's 10 addresses at start-up; with prefix delegation its primary and one /28
(17 addresses, 1 free block). Every number below is counted by hand from the addresses given:
a /24 has 251 usable addresses.
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
from ipaudit_sim.kube_api import KubeApiServer, ec2_node_class_object, node_pool_object
from ipaudit_sim.seed import NodeSpec, SeededCluster, SubnetSpec, add_node_group, seed_cluster
from tests.integration.cluster_builder import interface, kube, moto_environment

REGION = "eu-west-1"
A, B = f"{REGION}a", f"{REGION}b"
DISCOVERY = "karpenter.sh/discovery"


def _node() -> NodeSpec:
    # 10 addresses on its primary ENI (1 + 9 for pods), 5 pods: 4 warm.
    return NodeSpec(subnet=0, eni_addresses=(10,), pods=5, instance_type="m5.large")


def _two_zones(session: boto3.Session, name: str, octet: int, **kw: Any) -> SeededCluster:
    """A cluster with one /24 in each of two zones and one node in each."""
    return seed_cluster(
        session,
        name=name,
        vpc_cidr=f"10.{octet}.0.0/16",
        subnets=[SubnetSpec(f"10.{octet}.0.0/24", A), SubnetSpec(f"10.{octet}.1.0/24", B)],
        nodes=[_node(), NodeSpec(subnet=1, eni_addresses=(10,), pods=5, instance_type="m5.large")],
        **kw,
    )


def _fill(session: boto3.Session, seeded: SeededCluster, subnet: int, count: int) -> None:
    """Something else holds `count` more addresses of the subnet."""
    interface(
        session.client("ec2"),
        seeded.subnet_ids[subnet],
        seeded.books[subnet].take(count),
        "something else",
    )


class World:
    def __init__(self, session: boto3.Session) -> None:
        self.session = session
        self.servers: dict[str, KubeApiServer] = {}
        self.seeded: dict[str, SeededCluster] = {}

    def serve(self, seeded: SeededCluster) -> KubeApiServer:
        self.seeded[seeded.name] = seeded
        self.servers[seeded.name] = server = kube(seeded)
        return server


def _seed(world: World) -> None:
    session = world.session

    # fits: 241 free in each zone (24 new nodes each); MaxSize 6 with 2 nodes: 4 wanted.
    fits = _two_zones(session, "fits", 81)
    add_node_group(session, fits, "fits-ng", instance_type="m5.large", max_size=6)
    world.serve(fits)

    # partway: eu-west-1a 251 - 10 - 216 = 25 free (2 nodes), eu-west-1b 251 - 10 - 141 = 100
    # (10 nodes); MaxSize 24 with 2 nodes: 22 wanted, 12 can start.
    partway = _two_zones(session, "partway", 82)
    _fill(session, partway, 0, 216)
    _fill(session, partway, 1, 141)
    add_node_group(session, partway, "partway-ng", instance_type="m5.large", max_size=24)
    world.serve(partway)

    # blocked: 251 - 10 - 236 = 5 and 251 - 10 - 232 = 9 free: under 10 in both zones.
    blocked = _two_zones(session, "blocked", 83)
    _fill(session, blocked, 0, 236)
    _fill(session, blocked, 1, 232)
    add_node_group(session, blocked, "blocked-ng", instance_type="m5.large", max_size=4)
    world.serve(blocked)

    # karpenter: no node group; NodePools `default` (nodes limit 4, one node now) and `capped`
    # (cpu limit 4: two m5.large of 2 vCPUs) share an EC2NodeClass selecting eu-west-1a's
    # subnet by tag and eu-west-1b's by id. The node runs in eu-west-1a: 241 and 251 free.
    karpenter = seed_cluster(
        session,
        name="karpenter",
        vpc_cidr="10.84.0.0/16",
        subnets=[SubnetSpec("10.84.0.0/24", A), SubnetSpec("10.84.1.0/24", B)],
        nodes=[_node()],
        subnet_tags={0: {DISCOVERY: "karpenter"}},
    )
    karpenter.kube_nodes[0]["metadata"]["labels"]["karpenter.sh/nodepool"] = "default"
    server = world.serve(karpenter)
    server.karpenter = True
    server.node_pools = [
        node_pool_object("default", "default", limits={"nodes": "4"}, instance_types=["m5.large"]),
        node_pool_object("capped", "default", limits={"cpu": "4"}, instance_types=["m5.large"]),
    ]
    server.node_classes = [
        ec2_node_class_object(
            "default",
            [{"tags": {DISCOVERY: "karpenter"}}, {"id": karpenter.subnet_ids[1]}],
        )
    ]

    # prefix: prefix delegation on; one node (its primary only) in each zone. eu-west-1a has
    # one address used in each of its other 15 /28 blocks: 235 free but no free block;
    # eu-west-1b has 250 free and 14 free blocks (its first and last hold AWS's reserved ones).
    prefix = seed_cluster(
        session,
        name="prefix",
        vpc_cidr="10.85.0.0/16",
        subnets=[SubnetSpec("10.85.0.0/24", A), SubnetSpec("10.85.1.0/24", B)],
        nodes=[
            NodeSpec(subnet=0, eni_addresses=(1,), pods=0, instance_type="m5.large"),
            NodeSpec(subnet=1, eni_addresses=(1,), pods=0, instance_type="m5.large"),
        ],
        cni_env={"ENABLE_PREFIX_DELEGATION": "true"},
    )
    interface(
        session.client("ec2"),
        prefix.subnet_ids[0],
        [f"10.85.0.{16 * block + 5}" for block in range(1, 16)],
        "something else",
    )
    add_node_group(session, prefix, "prefix-ng", instance_type="m5.large", max_size=22)
    world.serve(prefix)

    # refused: Karpenter is installed but the audit may not read its NodePools (403).
    refused = _two_zones(session, "refused", 86)
    server = world.serve(refused)
    server.karpenter = True
    server.forbidden = {"nodepools"}


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ipaudit", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.fixture(scope="module")
def audited(
    moto_server: MotoServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[World, dict[str, Any], Path, dict[str, str]]]:
    with moto_environment(moto_server, REGION) as env:
        world = World(boto3.Session(region_name=REGION))
        _seed(world)
        endpoints = ",".join(f"{n}={s.start()}" for n, s in world.servers.items())
        try:
            env = {**env, "IPAUDIT_KUBE_ENDPOINTS": endpoints}
            done = _run(env, "audit", "--json")
        finally:
            for server in world.servers.values():
                server.stop()
        assert done.returncode == 0, done.stderr
        path = tmp_path_factory.mktemp("what-if") / "report.json"
        path.write_text(done.stdout)
        yield world, json.loads(done.stdout), path, env


def _cluster(report: dict[str, Any], name: str) -> dict[str, Any]:
    [found] = [c for c in report["clusters"] if c["name"] == name]
    return found


def _ceiling(report: dict[str, Any], cluster: str, group: str) -> dict[str, Any]:
    [found] = [g for g in _cluster(report, cluster)["ceilings"] if g["group"] == group]
    return found


def _findings(report: dict[str, Any], cluster: str) -> list[dict[str, Any]]:
    return [
        f for f in report["findings"] if f["cluster"] == cluster and f["kind"] == "scale_ceiling"
    ]


def _zones(ceiling: dict[str, Any]) -> list[tuple[str, int, int, int]]:
    return [
        (z["az"], z["free_launch"], z["need_launch"], z["nodes_possible"]) for z in ceiling["zones"]
    ]


def test_a_group_whose_maximum_fits_raises_nothing(audited: Any) -> None:
    _, report, _, _ = audited
    ceiling = _ceiling(report, "fits", "fits-ng")
    assert (ceiling["kind"], ceiling["instance_type"], ceiling["startup_need"]) == (
        "nodegroup",
        "m5.large",
        10,
    )
    assert (ceiling["max_nodes"], ceiling["current_nodes"], ceiling["nodes_wanted"]) == (6, 2, 4)
    assert ceiling["limit"] == "Auto Scaling group MaxSize 6"
    assert _zones(ceiling) == [(A, 241, 10, 24), (B, 241, 10, 24)]
    assert (ceiling["nodes_possible"], ceiling["first_zone_out"], ceiling["severity"]) == (
        4,
        None,
        None,
    )
    # Each node: kubelet admits 29 - 2 - 5 = 22 more; 4 on its warm addresses, 18 more on its
    # ENI slots (3 x 9 - 9), well within 241 free: 22 each.
    assert ceiling["pods_fit_now"] == 44
    assert [
        (p["pods_on_held"], p["pods_needing_addresses"], p["pods_fit"]) for p in ceiling["pods"]
    ] == [
        (4, 18, 22),
        (4, 18, 22),
    ]
    assert _findings(report, "fits") == []
    [node] = [
        n for n in _cluster(report, "fits")["nodes"] if n["subnet_id"] == ceiling["subnet_ids"][0]
    ]
    assert node["group"] == "fits-ng"


def test_a_group_that_stops_part_way_warns_naming_the_zone_that_runs_out_first(
    audited: Any,
) -> None:
    _, report, _, _ = audited
    ceiling = _ceiling(report, "partway", "partway-ng")
    assert _zones(ceiling) == [(A, 25, 10, 2), (B, 100, 10, 10)]
    assert (ceiling["nodes_wanted"], ceiling["nodes_possible"]) == (22, 12)
    assert (ceiling["first_zone_out"], ceiling["severity"]) == (A, "WARNING")
    [finding] = _findings(report, "partway")
    assert finding["severity"] == "WARNING"
    assert finding["resource"] == "nodegroup/partway-ng"
    assert finding["value"] == 12
    assert "can start 12 of the 22 more nodes" in finding["message"]
    assert (
        f"first to run out: {A} runs out after 2 (25 free, 10 per node); then {B} runs out "
        "after 10 (100 free, 10 per node)"
    ) in finding["message"]


def test_a_group_that_cannot_start_one_node_is_critical(audited: Any) -> None:
    _, report, _, _ = audited
    ceiling = _ceiling(report, "blocked", "blocked-ng")
    assert _zones(ceiling) == [(A, 5, 10, 0), (B, 9, 10, 0)]
    assert (ceiling["nodes_possible"], ceiling["severity"]) == (0, "CRITICAL")
    [finding] = _findings(report, "blocked")
    assert finding["severity"] == "CRITICAL"
    assert f"{A} cannot start one (5 free, 10 per node)" in finding["message"]


def test_karpenter_node_pools_count_their_selected_subnets_and_limits_sharing_the_free(
    audited: Any,
) -> None:
    world, report, _, _ = audited
    karpenter = world.seeded["karpenter"]
    default = _ceiling(report, "karpenter", "default")
    capped = _ceiling(report, "karpenter", "capped")
    assert default["kind"] == capped["kind"] == "nodepool"
    assert default["subnet_ids"] == capped["subnet_ids"] == karpenter.subnet_ids
    # Both pools draw on both subnets: 241 and 251 free split in two, the odd one to `capped`.
    assert _zones(default) == [(A, 120, 10, 12), (B, 125, 10, 12)]
    assert _zones(capped) == [(A, 121, 10, 12), (B, 126, 10, 12)]
    assert (default["max_nodes"], default["current_nodes"], default["nodes_possible"]) == (4, 1, 3)
    assert default["limit"] == "NodePool limits: nodes 4"
    assert (capped["max_nodes"], capped["nodes_possible"]) == (2, 2)
    assert capped["limit"] == ("NodePool limits: cpu 4 (0 used by 0 nodes, 2 per m5.large: 2 more)")
    assert _findings(report, "karpenter") == []
    [node] = _cluster(report, "karpenter")["nodes"]
    assert node["group"] == "default"
    subnets = {s["subnet_id"]: s for s in _cluster(report, "karpenter")["subnets"]}
    assert "nodes" in subnets[karpenter.subnet_ids[1]]["roles"]


def test_no_karpenter_is_a_404_and_a_refused_node_pool_list_costs_only_its_ceilings(
    audited: Any,
) -> None:
    world, report, _, _ = audited
    assert any("nodepools" in r for r in world.servers["fits"].requests)
    assert not any("ec2nodeclasses" in r for r in world.servers["fits"].requests)
    refused = _cluster(report, "refused")
    assert refused["pods"] == 10 and refused["ceilings"] == []
    [coverage] = [c for c in report["coverage"] if c["cluster"] == "refused"]
    assert coverage["status"] == "ok"
    assert any("refused to read Karpenter's NodePools" in note for note in coverage["notes"])


def test_prefix_delegation_needs_a_free_block_not_only_17_addresses(audited: Any) -> None:
    _, report, _, _ = audited
    ceiling = _ceiling(report, "prefix", "prefix-ng")
    assert (ceiling["startup_need"], ceiling["startup_prefixes"]) == (17, 1)
    blocks = [
        (z["az"], z["free_launch"], z["free_prefix_blocks"], z["nodes_possible"])
        for z in ceiling["zones"]
    ]
    # eu-west-1a: 235 // 17 = 13 by addresses, but 0 blocks; eu-west-1b: min(250 // 17, 14).
    assert blocks == [(A, 235, 0, 0), (B, 250, 14, 14)]
    assert (ceiling["nodes_wanted"], ceiling["nodes_possible"], ceiling["severity"]) == (
        20,
        14,
        "WARNING",
    )
    assert (
        f"{A} cannot start one (235 free, 17 per node, 0 free /28 blocks, 1 per node)"
        in ceiling["note"]
    )


def test_what_if_more_nodes_from_the_stored_report(audited: Any) -> None:
    world, _, path, env = audited
    done = _run(
        env,
        "what-if",
        "--report",
        str(path),
        "--add-nodes",
        "3",
        "--type",
        "m5.large",
        "--group",
        "partway-ng",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    [answer] = json.loads(done.stdout)["answers"]
    # Spread evenly: 1 and 1, the odd one to eu-west-1a, which then has 25 - 20 = 5 left.
    assert (answer["nodes_started"], answer["nodes_not_started"]) == (3, 0)
    subnet_a, subnet_b = world.seeded["partway"].subnet_ids
    after = {s["subnet_id"]: (s["free_now"], s["free_after"]) for s in answer["subnets"]}
    assert after == {subnet_a: (25, 5), subnet_b: (100, 90)}
    assert [(z["az"], z["free_after"]) for z in answer["zones"]] == [(A, 5), (B, 90)]
    assert answer["ips_held_after"] - answer["ips_held_now"] == 30
    [ceiling] = answer["ceilings"]
    assert (ceiling["current_nodes"], ceiling["nodes_wanted"], ceiling["nodes_possible"]) == (
        5,
        19,
        9,
    )
    assert answer["fits"] is True


def test_what_if_check_exits_3_when_a_setting_would_leave_pods_without_addresses(
    audited: Any, tmp_path: Path
) -> None:
    _, _, path, env = audited
    starving = tmp_path / "settings.json"
    # MINIMUM_IP_TARGET without WARM_IP_TARGET caps a node at 3 addresses (#2650): a new node
    # given its 5 pods leaves 2 of them waiting.
    starving.write_text(json.dumps({"MINIMUM_IP_TARGET": 3}))
    done = _run(
        env, "what-if", "--report", str(path), "--cluster", "fits", "--check", str(starving)
    )
    assert done.returncode == 3, done.stdout + done.stderr
    flowing = " ".join(done.stdout.split())  # the answer is wrapped to the terminal
    assert "does not fit" in flowing and "pods left without an address" in flowing
    fine = tmp_path / "fine.json"
    fine.write_text(json.dumps({"WARM_IP_TARGET": "2"}))
    done = _run(env, "what-if", "--report", str(path), "--cluster", "fits", "--check", str(fine))
    assert done.returncode == 0, done.stdout + done.stderr


def test_what_if_bad_input_is_one_line_naming_the_flag(audited: Any, tmp_path: Path) -> None:
    _, _, path, env = audited
    done = _run(env, "what-if", "--report", str(path), "--settings", '{"WARM_IP_TARGET": "x"}')
    assert (done.returncode, done.stderr) == (
        1,
        "ipaudit: error: --settings: WARM_IP_TARGET: must be a whole number, got 'x'\n",
    )
    done = _run(env, "what-if", "--report", str(path), "--add-nodes", "2")
    assert done.returncode == 2
    assert done.stderr.strip().endswith("--add-nodes needs --type and --group")
