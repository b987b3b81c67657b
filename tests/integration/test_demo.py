"""`ipaudit demo`: the article's organization, audited for real, shows the article's numbers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import jsonschema
import pytest

from ipaudit.report import json_schema


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    digest = tmp_path_factory.mktemp("demo") / "digest.html"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "IPAUDIT_"))}
    done = subprocess.run(
        [sys.executable, "-m", "ipaudit", "demo", "--json", "--digest-html", str(digest)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "<table" in digest.read_text()  # the weekly digest, for a browser
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def test_two_of_the_three_22_subnets_are_exhausted(demo: dict[str, Any]) -> None:
    [prod] = [c for c in demo["clusters"] if c["name"] == "shop-prod"]
    subnets = sorted(prod["subnets"], key=lambda s: s["cidr"])
    assert [s["cidr"] for s in subnets] == ["10.0.0.0/22", "10.0.4.0/22", "10.0.8.0/22"]
    assert [s["usable"] for s in subnets] == [1019, 1019, 1019]
    assert [s["free"] for s in subnets] == [0, 0, 109]
    critical = {f["resource"] for f in demo["findings"] if f["severity"] == "CRITICAL"}
    assert {subnets[0]["subnet_id"], subnets[1]["subnet_id"]} <= critical


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
