"""The whole audit, as `ipaudit audit --json` runs it, against moto over HTTP and local
Kubernetes APIs: an organization of three accounts in two regions, with a role that cannot be
assumed, a cluster whose API is down, a leaked ENI, and pods that must not count."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import boto3
import jsonschema
import pytest

from ipaudit.report import json_schema
from ipaudit_sim.aws import MotoServer, point_environment_at
from ipaudit_sim.kube_api import KubeApiServer
from ipaudit_sim.seed import NodeSpec, SeededCluster, SubnetSpec, seed_cluster

EU, US = "eu-west-1", "us-east-1"


def assume(session: boto3.Session, account: str, region: str) -> boto3.Session:
    credentials = session.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
        RoleSessionName="seed",
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=region,
    )


def kube_for(cluster: SeededCluster) -> KubeApiServer:
    server = KubeApiServer(cluster.name)
    server.nodes, server.pods = cluster.kube_nodes, cluster.kube_pods
    server.daemonsets = cluster.kube_daemonsets
    return server


@pytest.fixture(scope="module")
def audit(moto_server: MotoServer, denying_proxy: Any) -> Iterator[dict[str, Any]]:
    moto_server.reset()
    env: dict[str, str] = {
        k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "IPAUDIT_"))
    }
    point_environment_at(moto_server.url, EU, env)
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith(("AWS_", "IPAUDIT_"))]:
            patch.delenv(name)
        for name, value in env.items():
            patch.setenv(name, value)
        management = boto3.Session(region_name=EU)
        org = management.client("organizations")
        org.create_organization(FeatureSet="ALL")
        prod = org.create_account(Email="p@example.com", AccountName="prod")
        denied = org.create_account(Email="d@example.com", AccountName="denied")
        prod_id = prod["CreateAccountStatus"]["AccountId"]
        denied_id = denied["CreateAccountStatus"]["AccountId"]
        denying_proxy.denied = {f"arn:aws:iam::{denied_id}:role/IpAuditReadOnly"}

        payments = seed_cluster(
            assume(management, prod_id, EU),
            name="payments",
            vpc_cidr="10.10.0.0/16",
            subnets=[
                SubnetSpec("10.10.0.0/24", "eu-west-1a"),
                SubnetSpec("10.10.1.0/24", "eu-west-1b"),
            ],
            nodes=[
                NodeSpec(
                    subnet=0,
                    eni_addresses=(10, 10),
                    pods=12,
                    instance_type="m5.large",
                    finished_pods=1,
                ),
                NodeSpec(subnet=1, eni_addresses=(10,), pods=3, instance_type="m5.large"),
            ],
            cni_env={"WARM_ENI_TARGET": "1", "AWS_VPC_K8S_CNI_LOGLEVEL": "DEBUG"},
            leaked_enis=[(1, 4)],
        )
        dev = seed_cluster(
            management,
            name="dev",
            vpc_cidr="10.20.0.0/16",
            subnets=[SubnetSpec("10.20.0.0/24", "eu-west-1a")],
            nodes=[NodeSpec(subnet=0, eni_addresses=(10,), pods=4, instance_type="m5.large")],
        )
        edge = seed_cluster(
            boto3.Session(region_name=US),
            name="edge",
            vpc_cidr="10.30.0.0/16",
            subnets=[SubnetSpec("10.30.0.0/28", "us-east-1a")],
            nodes=[NodeSpec(subnet=0, eni_addresses=(6,), pods=2, instance_type="t3.medium")],
        )
        servers = {c.name: kube_for(c) for c in (payments, dev, edge)}
        endpoints = ",".join(f"{name}={s.start()}" for name, s in servers.items())
        servers["dev"].stop()  # its API is down
        run_env = {
            **env,
            "AWS_ENDPOINT_URL": denying_proxy.url,
            "IPAUDIT_ACCOUNTS": "organization",
            "IPAUDIT_REGIONS": f"{EU},{US}",
            "IPAUDIT_KUBE_ENDPOINTS": endpoints,
        }
        done = subprocess.run(
            [sys.executable, "-m", "ipaudit", "audit", "--json"],
            env=run_env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        as_csv = subprocess.run(
            [sys.executable, "-m", "ipaudit", "audit", "--output", "csv"],
            env=run_env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        for name in ("payments", "edge"):
            servers[name].stop()
        assert done.returncode == 0, done.stderr
        assert as_csv.returncode == 0, as_csv.stderr
        report = json.loads(done.stdout)
        report["_csv"] = as_csv.stdout
        report["_ids"] = {"prod": prod_id, "denied": denied_id, "management": "123456789012"}
        yield report


def cluster(report: dict[str, Any], name: str) -> dict[str, Any]:
    [found] = [c for c in report["clusters"] if c["name"] == name]
    return found


def test_every_cluster_of_every_reachable_account_and_region_is_audited(
    audit: dict[str, Any],
) -> None:
    ids = audit["_ids"]
    assert sorted((c["account_id"], c["region"], c["name"]) for c in audit["clusters"]) == sorted(
        [
            (ids["prod"], EU, "payments"),
            (ids["management"], EU, "dev"),
            (ids["management"], US, "edge"),
        ]
    )


def test_subnets_report_exact_free_addresses_and_free_28_blocks(audit: dict[str, Any]) -> None:
    subnets = {s["cidr"]: s for s in cluster(audit, "payments")["subnets"]}
    a, b = subnets["10.10.0.0/24"], subnets["10.10.1.0/24"]
    # a: one node with 2 ENIs x 10 addresses; b: one node with 10, and a leaked ENI with 4.
    assert (a["usable"], a["free"], a["free_prefix_blocks"]) == (251, 231, 16 - 3)
    assert (b["usable"], b["free"], b["free_prefix_blocks"]) == (251, 237, 16 - 3)
    assert a["free_pct"] == 92.0 and a["az"] == "eu-west-1a"


def test_nodes_count_only_pods_with_a_vpc_address(audit: dict[str, Any]) -> None:
    payments = cluster(audit, "payments")
    big, small = sorted(payments["nodes"], key=lambda n: -n["ips_held"])
    # hostNetwork (aws-node, kube-proxy) and Succeeded pods hold no address of the pool.
    assert (big["enis"], big["ips_held"], big["secondary_ips"], big["pods"], big["warm_ips"]) == (
        2,
        20,
        18,
        12,
        6,
    )
    assert (small["enis"], small["ips_held"], small["secondary_ips"], small["pods"]) == (
        1,
        10,
        9,
        3,
    )
    assert len(payments["nodes"]) == 2 and big["instance_type"] == "m5.large"
    assert (payments["ips_held"], payments["pods"], payments["warm_ips"]) == (30, 15, 12)
    # The pool manager's settings as set; the rest of aws-node's env (log level...) is not.
    assert payments["cni"] == {"WARM_ENI_TARGET": "1"}


def used_by(subnet: dict[str, Any]) -> dict[str, int]:
    """The subnet's attribution without the owners holding nothing; it always sums to what
    EC2 says is used."""
    assert sum(subnet["addresses"].values()) == subnet["usable"] - subnet["free"]
    return {owner: count for owner, count in subnet["addresses"].items() if count}


def test_every_used_address_of_every_subnet_is_attributed(audit: dict[str, Any]) -> None:
    payments = cluster(audit, "payments")
    assert payments["network_mode"] == "vpc-cni"
    a, b = sorted(payments["subnets"], key=lambda s: s["cidr"])
    # a: a node with 2 ENIs x 10 (2 primaries, 18 others, 12 of them pods');
    # b: a node with 10 (1 primary, 3 pods, 6 warm) and a leaked ENI with 4.
    assert used_by(a) == {"node_primary": 2, "pods": 12, "warm": 6}
    assert used_by(b) == {"node_primary": 1, "pods": 3, "warm": 6, "leaked": 4}
    assert a["roles"] == b["roles"] == ["nodes", "pods", "control-plane"]
    assert a["clusters"] == ["payments"]
    for report in audit["clusters"]:
        for subnet in report["subnets"]:
            used_by(subnet)


def test_a_leaked_cni_eni_is_listed_and_warned_about(audit: dict[str, Any]) -> None:
    payments = cluster(audit, "payments")
    [leak] = payments["leaked_enis"]
    assert leak["ips"] == 4 and leak["subnet_id"] == payments["subnets"][1]["subnet_id"]
    [finding] = [f for f in audit["findings"] if f["kind"] == "leaked_enis"]
    assert finding["severity"] == "WARNING" and leak["eni_id"] in finding["message"]


def test_a_cluster_whose_api_is_down_keeps_its_ec2_view_with_unknown_pods(
    audit: dict[str, Any],
) -> None:
    dev = cluster(audit, "dev")
    [node] = dev["nodes"]
    assert (node["ips_held"], node["pods"], node["warm_ips"]) == (10, None, None)
    assert dev["pods"] is None and dev["warm_ips"] is None
    # Neither Kubernetes nor EKS (no vpc-cni add-on) can say how its pods are networked.
    assert (dev["network_mode"], dev["cni"]) == ("unknown", None)
    [subnet] = dev["subnets"]
    assert used_by(subnet) == {"node_primary": 1, "aws_node_unknown": 9}
    [gap] = [c for c in audit["coverage"] if c["cluster"] == "dev"]
    assert gap["status"] == "error" and "unreachable" in gap["error"].lower()


def test_an_account_whose_role_cannot_be_assumed_is_a_coverage_gap_in_every_region(
    audit: dict[str, Any],
) -> None:
    denied = audit["_ids"]["denied"]
    gaps = [c for c in audit["coverage"] if c["account_id"] == denied]
    assert sorted(g["region"] for g in gaps) == [EU, US]
    assert all(g["status"] == "error" and "AccessDenied" in g["error"] for g in gaps)
    assert {f["account_id"] for f in audit["findings"] if f["kind"] == "coverage"} >= {denied}


def test_a_tiny_subnet_that_cannot_fit_another_node_is_critical(audit: dict[str, Any]) -> None:
    # edge runs in a /28: 11 usable, 6 held by its node; a new t3.medium takes 6 at start-up
    # (WARM_ENI_TARGET=1 fills its primary ENI), more than the 5 left.
    [subnet] = cluster(audit, "edge")["subnets"]
    assert (subnet["usable"], subnet["free"]) == (11, 5)
    [finding] = [
        f for f in audit["findings"] if f["cluster"] == "edge" and f["kind"] == "subnet_headroom"
    ]
    assert finding["severity"] == "CRITICAL"


def test_the_report_keeps_the_design_contract_fields(audit: dict[str, Any]) -> None:
    assert {"run_id", "generated_at", "clusters", "findings", "coverage"} <= set(audit)
    payments = cluster(audit, "payments")
    assert {
        "account_id",
        "region",
        "name",
        "vpc_id",
        "cni",
        "subnets",
        "nodes",
        "leaked_enis",
        "ips_held",
        "pods",
        "warm_ips",
        "recommendation",
    } <= set(payments)
    for finding in audit["findings"]:
        assert {
            "id",
            "severity",
            "kind",
            "account_id",
            "region",
            "cluster",
            "resource",
            "message",
        } <= set(finding)


def test_csv_output_has_a_row_per_subnet_and_per_node_matching_the_json(
    audit: dict[str, Any],
) -> None:
    rows = list(csv.DictReader(io.StringIO(audit["_csv"])))
    subnets = {
        (c["name"], s["subnet_id"], str(s["free"])) for c in audit["clusters"] for s in c["subnets"]
    }
    nodes = {
        (c["name"], n["instance_id"], str(n["ips_held"]))
        for c in audit["clusters"]
        for n in c["nodes"]
    }
    assert {(r["cluster"], r["subnet_id"], r["free"]) for r in rows if r["record"] == "subnet"} == (
        subnets
    )
    assert {
        (r["cluster"], r["instance_id"], r["ips_held"]) for r in rows if r["record"] == "node"
    } == nodes
    assert len(rows) == len(subnets) + len(nodes)


def test_the_json_report_validates_against_the_shipped_schema(audit: dict[str, Any]) -> None:
    # What `ipaudit audit --json` printed, checked as an outside tool would check it.
    validator = jsonschema.Draft202012Validator(
        json_schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    assert [e.message for e in validator.iter_errors(audit)] == []
    assert audit["schema_version"] == 1
