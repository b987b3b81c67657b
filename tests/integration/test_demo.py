"""`ipaudit demo`: the article's organization, audited for real, shows the article's numbers,
tells its story first and in readable text, and looks like a real cluster to kubectl and the
aws CLI."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import jsonschema
import kubernetes
import pytest
from botocore.exceptions import ClientError

from ipaudit.kube.token import eks_token
from ipaudit.report import json_schema
from ipaudit_sim.world import World, article_world


def run_demo(*flags: str, cwd: Path, tmpdir: Path) -> subprocess.CompletedProcess[str]:
    """The demo as a user runs it, stdout a pipe; nothing of the test's AWS or terminal."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "IPAUDIT_")) and k not in ("COLUMNS", "LINES")
    }
    done = subprocess.run(
        [sys.executable, "-m", "ipaudit", "demo", *flags],
        env={**env, "TMPDIR": str(tmpdir)},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path, Path]:
    """`ipaudit demo --json` with no digest flag: (the report, its working and temp folders)."""
    cwd, tmpdir = tmp_path_factory.mktemp("cwd"), tmp_path_factory.mktemp("tmp")
    done = run_demo("--json", cwd=cwd, tmpdir=tmpdir)
    report: dict[str, Any] = json.loads(done.stdout)
    return report, cwd, tmpdir


@pytest.fixture(scope="module")
def demo(demo_run: tuple[dict[str, Any], Path, Path]) -> dict[str, Any]:
    return demo_run[0]


@pytest.fixture(scope="module")
def text(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """`ipaudit demo` as people read it, the digest where `--digest` says: (stdout, digest)."""
    cwd = tmp_path_factory.mktemp("text")
    digest = cwd / "week.html"
    done = run_demo("--digest", str(digest), cwd=cwd, tmpdir=cwd)
    return done.stdout, digest


def flowing(text: str) -> str:
    """The text with its wrapping undone, to read sentences across lines."""
    return " ".join(text.split())


def test_two_of_the_three_22_subnets_are_exhausted(demo: dict[str, Any]) -> None:
    [prod] = [c for c in demo["clusters"] if c["name"] == "shop-prod"]
    subnets = sorted(prod["subnets"], key=lambda s: s["cidr"])
    assert [s["cidr"] for s in subnets] == ["10.0.0.0/22", "10.0.4.0/22", "10.0.8.0/22"]
    assert [s["usable"] for s in subnets] == [1019, 1019, 1019]
    assert [s["free"] for s in subnets] == [0, 0, 109]
    critical = {f["resource"] for f in demo["findings"] if f["severity"] == "CRITICAL"}
    assert {subnets[0]["subnet_id"], subnets[1]["subnet_id"]} <= critical
    # ...and the pods scheduled on their nodes that no address could be found for.
    [starved] = [f for f in demo["findings"] if f["kind"] == "pods_without_addresses"]
    assert (starved["severity"], starved["cluster"], starved["value"]) == (
        "CRITICAL",
        "shop-prod",
        6,
    )


def test_churned_nodes_hold_150_addresses_for_10_pods(demo: dict[str, Any]) -> None:
    [prod] = [c for c in demo["clusters"] if c["name"] == "shop-prod"]
    churned = [n for n in prod["nodes"] if n["pods"] == 10]
    assert len(churned) == 10
    assert all(
        (n["enis"], n["ips_held"], n["instance_type"]) == (5, 150, "m5.8xlarge") for n in churned
    )
    assert prod["pods"] == 1200 and prod["ips_held"] == 2938


def test_the_article_cluster_gets_a_recommendation_that_returns_addresses(
    demo: dict[str, Any],
) -> None:
    [prod] = [c for c in demo["clusters"] if c["name"] == "shop-prod"]
    recommendation = prod["recommendation"]
    assert recommendation["ips_returned"] > 0
    assert recommendation["projected_ips_held"] == prod["ips_held"] - recommendation["ips_returned"]
    assert "aws-node" in recommendation["command"] or "update-addon" in recommendation["command"]


def test_everything_in_the_organization_was_covered(demo: dict[str, Any]) -> None:
    assert demo["coverage"] and all(c["status"] == "ok" for c in demo["coverage"])


def test_the_json_report_validates_against_the_shipped_schema(demo: dict[str, Any]) -> None:
    # What `ipaudit demo --json` printed, checked as an outside tool would check it.
    validator = jsonschema.Draft202012Validator(
        json_schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    assert [e.message for e in validator.iter_errors(demo)] == []
    assert demo["schema_version"] == 1


def test_the_demo_shows_the_new_shapes_with_every_address_attributed(
    demo: dict[str, Any],
) -> None:
    clusters = {c["name"]: c for c in demo["clusters"]}
    payments, batch = clusters["payments"], clusters["batch"]
    a, b = sorted(payments["subnets"], key=lambda s: s["cidr"])
    held = {k: v for k, v in a["addresses"].items() if v}
    # the node (2 ENIs x 10: 12 pods), its trunk and 4 branch ENIs, an internal ALB's 2 ENIs
    assert held == {"node_primary": 2, "pods": 12, "warm": 6, "branch": 5, "load_balancers": 2}
    assert a["roles"] == ["nodes", "pods", "control-plane", "load-balancers"]
    # subnet b: 3 Fargate pods, and batch's node drawing on the same subnet
    assert b["clusters"] == ["batch", "payments"]
    assert {k: v for k, v in b["addresses"].items() if v} == {"fargate": 3, "other_clusters": 10}
    [batch_view] = batch["subnets"]
    assert batch_view["addresses"]["other_clusters"] == 3
    assert (payments["pods"], payments["fargate_pods"], payments["warm_ips"]) == (19, 3, 6)
    [node] = payments["nodes"]
    assert (node["ips_held"], node["branch_enis"], node["pods"]) == (25, 4, 16)
    for cluster in demo["clusters"]:
        assert cluster["network_mode"] == "vpc-cni"
        for subnet in cluster["subnets"]:
            assert sum(subnet["addresses"].values()) == subnet["usable"] - subnet["free"]


def test_search_runs_subnet_discovery_and_only_new_nodes_are_blocked(
    demo: dict[str, Any], text: tuple[str, Path]
) -> None:
    search = next(c for c in demo["clusters"] if c["name"] == "search")
    assert (search["subnet_discovery"], search["cni_version"]) == (True, "v1.19.2")
    by_cidr = {s["cidr"]: s for s in search["subnets"]}
    full, tagged = by_cidr["10.3.0.0/24"], by_cidr["100.64.0.0/22"]
    # 12 nodes x 20 + 11 load balancer addresses fill the /24; their third ENIs (12 x 10) are
    # in the tagged /22: 1019 - 120 = 899 free.
    assert (full["free"], tagged["free"], tagged["roles"]) == (0, 899, ["pods"])
    in_a = [n for n in search["nodes"] if n["subnet_id"] == full["subnet_id"]]
    assert {tuple(n["pool_subnet_ids"]) for n in in_a} == {(tagged["subnet_id"], full["subnet_id"])}
    findings = [f for f in demo["findings"] if f["cluster"] == "search"]
    critical = [f for f in findings if f["severity"] == "CRITICAL"]
    assert [(f["kind"], f["resource"]) for f in critical] == [
        ("subnet_headroom", full["subnet_id"])
    ]
    assert "new m5.large nodes cannot launch in it" in critical[0]["message"]
    # The text comes from a run of its own (other ids): the tagged subnet first, most free.
    assert re.search(
        r"pods in eu-west-1a draw on subnet-\w+ \(899 free\), subnet-\w+ \(0 free\): 899 free "
        r"in all",
        flowing(text[0]),
    )


def test_the_digest_is_one_temporary_file_unless_one_is_named(
    demo_run: tuple[dict[str, Any], Path, Path], text: tuple[str, Path]
) -> None:
    _, cwd, tmpdir = demo_run
    assert list(cwd.iterdir()) == []  # nothing left in the working directory
    # One file in the temporary directory, overwritten by the next run: no folder per run.
    assert [p.name for p in tmpdir.iterdir() if p.name.startswith("ipaudit-demo")] == [
        "ipaudit-demo-digest.html"
    ]
    written = tmpdir / "ipaudit-demo-digest.html"
    assert "<table" in written.read_text()  # the weekly digest, for a browser
    _, named = text
    assert "<table" in named.read_text()


def test_the_text_tells_the_exhausted_cluster_and_its_criticals_first(
    text: tuple[str, Path],
) -> None:
    out, _ = text
    clusters = re.findall(r"^Cluster (\S+)", out, re.MULTILINE)
    assert clusters[0] == "shop-prod" and sorted(clusters) == [
        "batch",
        "payments",
        "search",
        "shop-prod",
        "tools",
    ]
    findings = out[out.index("Findings (") :].splitlines()[1:]
    severities = [line.split()[0] for line in findings if line.startswith("  ") and line[2] != " "]
    assert severities[:3] == ["CRITICAL"] * 3
    assert "could not get an IP address" in flowing(out)  # the article's symptom, as CRITICAL


def test_the_text_fits_80_columns_on_a_pipe_with_plurals_and_one_precision(
    text: tuple[str, Path],
) -> None:
    out, _ = text
    assert [line for line in out.splitlines() if len(line) > 80] == []
    read = flowing(out)
    assert "1 node holds 10 addresses for 6 pods" in read
    assert "1 node primary +" in read and "1 leaked CNI ENI:" in read
    assert not re.search(r"\b1 (nodes|node primaries|leaked CNI ENIs)\b", read)
    percentages = re.findall(r"\d+(?:\.\d+)?%", out)
    assert percentages and all(re.fullmatch(r"\d+\.\d%", p) for p in percentages)


def test_a_node_holding_less_than_the_models_steady_state_says_both_in_one_sentence(
    text: tuple[str, Path],
) -> None:
    batch = flowing(text[0].split("Cluster batch")[1].split("\nCluster ")[0])
    assert (
        "the model's steady state for these settings is 20 addresses (12 warm); the node holds "
        "10 now (ipamd has not topped the pool up yet)"
    ) in batch


def test_the_trade_off_is_worded_from_the_numbers(text: tuple[str, Path]) -> None:
    shop = flowing(text[0].split("Cluster shop-prod")[1].split("\nCluster ")[0])
    # WARM_IP_TARGET=4 addresses a burst after 150 s where the defaults leave pods waiting.
    assert "costs more EC2 calls (0.37 per pod start against 0.28 now; budget 0.5)" in shop
    assert "starts pods faster on bursts" in shop and "slower" not in shop


def test_the_digest_counts_the_alerts_the_demo_raised(text: tuple[str, Path]) -> None:
    read = flowing(text[0])
    [raised] = re.findall(r"Alerts raised \((\d+) changes\)", read)
    [counted] = re.findall(r"(\d+) alerts? raised", read)
    assert int(raised) == int(counted) > 0
    assert f"{raised} new" in read  # all of them new: the first run


# --- what a platform engineer sees with kubectl and the aws CLI ------------------------------


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith(("AWS_", "IPAUDIT_"))]:
            patch.delenv(name)
        with article_world(os.environ) as running:
            yield running


def prod_session(world: World) -> boto3.Session:
    """The prod account, where shop-prod runs, through the role the audit assumes there."""
    role = world.access["shop-prod"].role_arn
    assert role is not None
    credentials = world.session.client("sts").assume_role(RoleArn=role, RoleSessionName="me")[
        "Credentials"
    ]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=world.session.region_name,
    )


@pytest.fixture(scope="module")
def shop(world: World, tmp_path_factory: pytest.TempPathFactory) -> kubernetes.client.CoreV1Api:
    """shop-prod's API through the official client, as kubectl reaches it."""
    access = world.access["shop-prod"]
    ca = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.write_bytes(base64.b64decode(access.ca_data))
    config = kubernetes.client.Configuration()
    config.host = access.server
    config.ssl_ca_cert = str(ca)
    config.api_key = {"authorization": f"Bearer {eks_token(prod_session(world), 'shop-prod')}"}
    return kubernetes.client.CoreV1Api(kubernetes.client.ApiClient(config))


def test_aws_node_runs_as_its_daemonsets_pod_on_every_node(
    shop: kubernetes.client.CoreV1Api,
) -> None:
    nodes = {n.metadata.name for n in shop.list_node().items}
    pods = shop.list_namespaced_pod("kube-system", label_selector="k8s-app=aws-node").items
    assert sorted(p.spec.node_name for p in pods) == sorted(nodes)
    for pod in pods:
        assert pod.spec.host_network and pod.metadata.name.startswith("aws-node-")
        [owner] = pod.metadata.owner_references
        assert (owner.kind, owner.name) == ("DaemonSet", "aws-node")
        assert pod.spec.containers[0].name == "aws-node"


def test_nodes_report_their_instance_types_resources_and_the_clusters_version(
    world: World, shop: kubernetes.client.CoreV1Api
) -> None:
    session = prod_session(world)
    [m5] = session.client("ec2").describe_instance_types(InstanceTypes=["m5.8xlarge"])[
        "InstanceTypes"
    ]
    version = session.client("eks").describe_cluster(name="shop-prod")["cluster"]["version"]
    for node in shop.list_node().items:
        capacity, allocatable = node.status.capacity, node.status.allocatable
        assert capacity["cpu"] == str(m5["VCpuInfo"]["DefaultVCpus"])
        assert capacity["memory"] == f"{m5['MemoryInfo']['SizeInMiB'] * 1024}Ki"
        assert capacity["pods"] == allocatable["pods"] == "234"  # 8 x (30 - 1) + 2
        assert int(allocatable["cpu"].removesuffix("m")) < 1000 * m5["VCpuInfo"]["DefaultVCpus"]
        assert node.status.node_info.kubelet_version.startswith(f"v{version}.")


def test_the_exhausted_subnets_nodes_record_the_articles_error(
    world: World, shop: kubernetes.client.CoreV1Api
) -> None:
    events = shop.list_event_for_all_namespaces(field_selector="reason=FailedCreatePodSandBox")
    assert events.items
    assert all("failed to assign an IP address to container" in e.message for e in events.items)
    ec2 = prod_session(world).client("ec2")
    subnets = {
        s["SubnetId"]: s["AvailableIpAddressCount"]
        for s in ec2.describe_subnets(SubnetIds=world.organization.prod.subnet_ids)["Subnets"]
    }
    hosts = {e.source.host for e in events.items}
    nodes = [n for n in shop.list_node().items if n.metadata.name in hosts]
    instance_ids = [n.spec.provider_id.rsplit("/", 1)[1] for n in nodes]
    reservations = ec2.describe_instances(InstanceIds=instance_ids)["Reservations"]
    assert {subnets[i["SubnetId"]] for r in reservations for i in r["Instances"]} == {0}
    pending = {e.involved_object.name for e in events.items}
    assert {
        p.metadata.name
        for p in shop.list_pod_for_all_namespaces().items
        if p.status.phase == "Pending"
    } == pending


def test_an_add_on_that_is_not_installed_is_eks_own_json_error(world: World) -> None:
    eks = prod_session(world).client("eks")
    with pytest.raises(ClientError) as raised:
        eks.describe_addon(clusterName="shop-prod", addonName="vpc-cni")
    error = raised.value.response
    assert error["Error"] == {
        "Code": "ResourceNotFoundException",
        "Message": "No addon: vpc-cni found in cluster: shop-prod",
    }
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert error["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/json"
    assert eks.list_addons(clusterName="shop-prod")["addons"] == []


def test_the_article_node_group_cannot_start_a_node_in_two_zones(demo: dict[str, Any]) -> None:
    [prod] = [c for c in demo["clusters"] if c["name"] == "shop-prod"]
    [ceiling] = prod["ceilings"]
    assert (ceiling["group"], ceiling["instance_type"], ceiling["startup_need"]) == (
        "shop-prod-nodes",
        "m5.8xlarge",
        30,
    )
    # MaxSize 30 with 20 nodes; 0, 0 and 109 free: 109 // 30 = 3 in eu-west-1c only.
    assert (ceiling["max_nodes"], ceiling["current_nodes"]) == (30, 20)
    assert [(z["az"], z["free_launch"], z["nodes_possible"]) for z in ceiling["zones"]] == [
        ("eu-west-1a", 0, 0),
        ("eu-west-1b", 0, 0),
        ("eu-west-1c", 109, 3),
    ]
    assert (ceiling["nodes_possible"], ceiling["severity"]) == (3, "WARNING")
    assert [f["severity"] for f in demo["findings"] if f["kind"] == "scale_ceiling"] == ["WARNING"]
