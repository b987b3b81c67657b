"""A VPC's Network Address Usage through the whole audit: moto over HTTP, local Kubernetes APIs,
and a local Service Quotas stand-in (moto's answers only AWS's defaults, and cannot refuse):
`AWS_ENDPOINT_URL_SERVICE_QUOTAS` points boto3 at it, as a real deployment's would point at AWS.

Every unit is counted by hand from AWS's table ("How NAU is calculated"): an address or prefix
on an ENI is 1, an ENI beyond an instance's first is 1, a NAT gateway or a load balancer's zone
is 6.
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
from moto.ec2.models import ec2_backends
from support.loopback import Loopback, QuietHandler

from ipaudit_sim.aws import MotoServer
from ipaudit_sim.kube_api import aws_node_daemonset
from ipaudit_sim.seed import SeededCluster
from tests.integration.cluster_builder import (
    ACCOUNT,
    add_node,
    audit_json,
    eks_cluster,
    interface,
    kube,
    moto_environment,
)

REGION = "eu-west-1"
NAU = "L-BB24F6E5"
PEERED_NAU = "L-CD17FD4B"


class QuotasStandIn:
    """Service Quotas' GetServiceQuota (JSON 1.1 over HTTP, loopback): the applied values in
    `values`, or AccessDeniedException for every call while `deny` is set."""

    def __init__(self) -> None:
        self.values: dict[str, float] = {}
        self.deny = False
        stand_in = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                body = json.loads(self.body())
                target = self.headers.get("X-Amz-Target", "")
                code = body.get("QuotaCode", "")
                if stand_in.deny:
                    status, answer = (
                        400,
                        {
                            "__type": "AccessDeniedException",
                            "message": "not authorized to perform: servicequotas:GetServiceQuota",
                        },
                    )
                elif target.endswith(".GetServiceQuota") and code in stand_in.values:
                    status, answer = (
                        200,
                        {
                            "Quota": {
                                "ServiceCode": "vpc",
                                "QuotaCode": code,
                                "Value": stand_in.values[code],
                            }
                        },
                    )
                else:
                    status, answer = 400, {"__type": "NoSuchResourceException", "message": code}
                self.answer(status, "application/x-amz-json-1.1", json.dumps(answer))

        self._server = Loopback(Handler)
        self.url = self._server.start()

    def stop(self) -> None:
        self._server.stop()


def _hosts(prefix: str, first: int, count: int) -> list[str]:
    return [f"{prefix}.{host}" for host in range(first, first + count)]


def _seed_warm(session: boto3.Session) -> SeededCluster:
    """`warm`: 4 m5.large nodes under aws-node's defaults, each with 3 full ENIs (10 addresses
    each) and 3 pods, one on each ENI so none can go; a NAT gateway and a Network Load Balancer
    beside them. Units: a node 30 addresses + 2 ENIs beyond its first = 32; 4 x 32 = 128; the
    NAT gateway 6 and the load balancer's one zone 6: 140."""
    ec2, eks = session.client("ec2"), session.client("eks")
    vpc = ec2.create_vpc(CidrBlock="10.90.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.90.0.0/24", AvailabilityZone="eu-west-1a")[
        "Subnet"
    ]["SubnetId"]
    public = ec2.create_subnet(VpcId=vpc, CidrBlock="10.90.1.0/24", AvailabilityZone="eu-west-1a")[
        "Subnet"
    ]["SubnetId"]
    eks_cluster(eks, "warm", [subnet])
    seeded = SeededCluster("warm", vpc, [subnet])
    seeded.kube_daemonsets.append(aws_node_daemonset({}))
    hosts = iter(range(4, 255))
    for _ in range(4):
        primary, second, third = ([f"10.90.0.{next(hosts)}" for _ in range(10)] for _ in range(3))
        pods = [primary[1], second[1], third[1]]
        add_node(
            ec2,
            seeded,
            subnet_id=subnet,
            primary=primary,
            enis=[(subnet, second), (subnet, third)],
            pods=pods,
        )
    # moto's API cannot set an ENI's type; its backend can (shared/domain/toolchain.md).
    backend = ec2_backends[ACCOUNT][REGION]
    nat = interface(ec2, public, ["10.90.1.10"], "Interface for NAT Gateway nat-1")
    nlb = interface(ec2, public, ["10.90.1.11"], "ELB net/ingress/0123456789abcdef")
    backend.enis[nat].interface_type = "nat_gateway"
    backend.enis[nlb].interface_type = "network_load_balancer"
    return seeded


def _seed_peer(session: boto3.Session, name: str, second_octet: int) -> SeededCluster:
    """3 m5.large nodes, each with its primary ENI and one more (10 addresses each) and 3 pods:
    a node 20 addresses + 1 ENI beyond its first = 21 units; 3 x 21 = 63."""
    ec2, eks = session.client("ec2"), session.client("eks")
    vpc = ec2.create_vpc(CidrBlock=f"10.{second_octet}.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(
        VpcId=vpc, CidrBlock=f"10.{second_octet}.0.0/24", AvailabilityZone="eu-west-1a"
    )["Subnet"]["SubnetId"]
    eks_cluster(eks, name, [subnet])
    seeded = SeededCluster(name, vpc, [subnet])
    seeded.kube_daemonsets.append(aws_node_daemonset({}))
    hosts = iter(range(4, 255))
    for _ in range(3):
        primary, second = ([f"10.{second_octet}.0.{next(hosts)}" for _ in range(10)] for _ in "ab")
        pods = [primary[1], primary[2], second[1]]
        add_node(ec2, seeded, subnet_id=subnet, primary=primary, enis=[(subnet, second)], pods=pods)
    return seeded


@pytest.fixture(scope="module")
def world(moto_server: MotoServer) -> Iterator[tuple[dict[str, str], dict[str, Any]]]:
    with moto_environment(moto_server, REGION) as env:
        session = boto3.Session(region_name=REGION)
        warm = _seed_warm(session)
        east, west = _seed_peer(session, "east", 91), _seed_peer(session, "west", 92)
        ec2 = session.client("ec2")
        peering = ec2.create_vpc_peering_connection(VpcId=east.vpc_id, PeerVpcId=west.vpc_id)
        ec2.accept_vpc_peering_connection(
            VpcPeeringConnectionId=peering["VpcPeeringConnection"]["VpcPeeringConnectionId"]
        )
        quotas = QuotasStandIn()
        # Applied quotas small enough to reach with a handful of nodes.
        quotas.values = {NAU: 150.0, PEERED_NAU: 155.0}
        env = {**env, "AWS_ENDPOINT_URL_SERVICE_QUOTAS": quotas.url}
        clusters = {"warm": warm, "east": east, "west": west}
        try:
            applied = audit_json(env, moto_server.url, {n: kube(c) for n, c in clusters.items()})
            quotas.deny = True
            denied = audit_json(env, moto_server.url, {n: kube(c) for n, c in clusters.items()})
        finally:
            quotas.stop()
        yield env, {"applied": applied, "denied": denied}


def _cluster(report: dict[str, Any], name: str) -> dict[str, Any]:
    [found] = [c for c in report["clusters"] if c["name"] == name]
    return found


def _findings(report: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [f for f in report["findings"] if f["kind"] == kind]


def _what_if(env: dict[str, str], report: dict[str, Any], tmp: Path, *args: str) -> Any:
    path = tmp / "report.json"
    path.write_text(json.dumps(report))
    return subprocess.run(
        [sys.executable, "-m", "ipaudit", "what-if", "--report", str(path), "--json", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_vpc_near_its_quota_because_of_warm_pools(world: Any) -> None:
    _, reports = world
    warm = _cluster(reports["applied"], "warm")
    nau = warm["network_address_usage"]
    # 4 x 32 + 6 + 6 = 140 of the applied 150: 10 free, 6.7% (below 10%).
    assert (nau["units"], nau["quota"], nau["quota_source"], nau["free"]) == (
        140,
        150,
        "applied",
        10,
    )
    assert nau["units_by_owner"] == {
        "addresses": 120,
        "prefixes": 0,
        "additional_enis": 8,
        "load_balancers": 6,
        "vpc_endpoints": 0,
        "nat_gateways": 6,
        "lambda": 0,
        "efs": 0,
        "transit_gateways": 0,
    }
    # Warm: each node's 27 secondary addresses less its 3 pods = 24; 4 x 24 = 96 (68.6%).
    assert (nau["warm_units"], nau["warm_pct"]) == (96, 68.6)
    assert nau["peers"] == [] and nau["peered_units"] == 140
    [finding] = [
        f for f in _findings(reports["applied"], "network_address_usage") if f["cluster"] == "warm"
    ]
    assert (finding["severity"], finding["resource"], finding["value"]) == (
        "CRITICAL",
        warm["vpc_id"],
        10.0,
    )
    assert "96 of them" in finding["message"]
    rec = warm["recommendation"]
    # The pods pin all 3 ENIs of every node, so what the recommendation returns is addresses,
    # one unit each: units returned = addresses returned.
    assert rec["kind"] == "tune"
    assert rec["units_returned"] == rec["ips_returned"] > 0
    assert f"{rec['units_returned']} back" in rec["rationale"]


def test_the_recommendation_in_what_if_gives_the_units_back(world: Any, tmp_path: Path) -> None:
    env, reports = world
    settings = json.dumps({"WARM_IP_TARGET": "2", "MINIMUM_IP_TARGET": "5"})
    done = _what_if(env, reports["applied"], tmp_path, "--cluster", "warm", "--check", settings)
    assert done.returncode == 0, done.stderr
    [answer] = json.loads(done.stdout)["answers"]
    # WARM_IP_TARGET=2, MINIMUM_IP_TARGET=5 with 3 pods: max(3 + 2, 5) = 5 secondary addresses
    # on each node's 3 pinned ENIs: 3 + 5 addresses + 2 more ENIs = 10 units instead of 32;
    # 4 x 22 = 88 back: 140 - 88 = 52.
    assert (answer["vpc_units_now"], answer["vpc_units_after"], answer["vpc_units_quota"]) == (
        140,
        52,
        150,
    )


def test_the_same_vpc_under_prefix_delegation(world: Any, tmp_path: Path) -> None:
    env, reports = world
    done = _what_if(
        env,
        reports["applied"],
        tmp_path,
        "--cluster",
        "warm",
        "--prefix-delegation",
        "--replace-nodes",
        "--settings",
        json.dumps({"WARM_IP_TARGET": "1"}),
    )
    assert done.returncode == 0, done.stderr
    [answer] = json.loads(done.stdout)["answers"]
    # Each node replaced under prefix delegation with WARM_IP_TARGET=1: 3 pods + 1 warm need
    # ceil(4 / 16) = 1 /28 on the primary ENI (9 slots): its address + 1 prefix = 2 units
    # instead of 32 (16 addresses for one unit); 4 x 30 = 120 back: 140 - 120 = 20, the NAT
    # gateway's and the load balancer's 12 among them.
    assert (answer["vpc_units_now"], answer["vpc_units_after"]) == (140, 20)


def test_a_peered_pair_crosses_the_peered_quota_while_each_is_under_its_own(
    world: Any, tmp_path: Path
) -> None:
    env, reports = world
    report = reports["applied"]
    east, west = (_cluster(report, n)["network_address_usage"] for n in ("east", "west"))
    # 63 each of their own 150 (58% free: no finding); together 126 of the peered 155:
    # 29 free, 18.7% (below 25%).
    assert (east["units"], east["free"], west["units"], west["free"]) == (63, 87, 63, 87)
    assert (east["peered_units"], east["peered_quota"], east["peered_free"]) == (126, 155, 29)
    assert [(p["vpc_id"], p["units"]) for p in east["peers"]] == [(west["vpc_id"], 63)]
    own = {f["cluster"] for f in _findings(report, "network_address_usage")}
    assert own == {"warm"}
    peered = _findings(report, "peered_network_address_usage")
    assert sorted((f["cluster"], f["severity"], f["value"]) for f in peered) == [
        ("east", "WARNING", 29.0),
        ("west", "WARNING", 29.0),
    ]
    # WARM_ENI_TARGET=2 gives each east node a third ENI: 10 addresses + 1 ENI = 11 units;
    # 3 x 11 = 33: east 96 of its own 150 fits, but 126 + 33 = 159 > 155 does not: exit 3.
    settings = json.dumps({"WARM_ENI_TARGET": "2"})
    done = _what_if(env, report, tmp_path, "--cluster", "east", "--check", settings)
    assert done.returncode == 3, done.stderr
    [answer] = json.loads(done.stdout)["answers"]
    assert (answer["vpc_units_after"], answer["fits"]) == (96, False)
    assert answer["peered_units_after"] == 159
    assert any("NetworkAddressUsagePeeredLimitExceeded" in why for why in answer["why_not"])


def test_a_quota_that_cannot_be_read_is_the_default_said_so(world: Any) -> None:
    _, reports = world
    nau = _cluster(reports["denied"], "warm")["network_address_usage"]
    assert (nau["units"], nau["quota"], nau["quota_source"]) == (140, 64000, "default")
    assert (nau["peered_quota"], nau["peered_quota_source"]) == (128000, "default")
    assert any("AccessDeniedException" in note and "64,000" in note for note in nau["notes"])
    # 140 of 64,000: nowhere near.
    assert _findings(reports["denied"], "network_address_usage") == []
