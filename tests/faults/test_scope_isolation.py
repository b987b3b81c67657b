"""One VPC whose pages fail or never come costs only the clusters in it: the account x region's
other VPCs, and their clusters, are reported (issue 26).

The article's organization in eu-west-1 (ipaudit_sim.article), counted by hand: account `prod`
holds three VPCs — shop-prod's (10.0.0.0/16), payments' (10.2.0.0/16, which batch shares) and
search's (10.3.0.0/16) — and the management account holds tools' VPC.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

import pytest
from faults.stand_ins import FaultyAws

from ipaudit.cli import main
from ipaudit_sim.world import World

DEADLINE = 20.0  # the hung VPC gets half; the clusters' APIs half of the rest, under load too
EVERY_CLUSTER = {"shop-prod", "tools", "payments", "batch", "search"}


def asks(body: bytes, action: str, vpc_id: str) -> bool:
    """Whether an EC2 request (form-encoded) is `action` filtered to `vpc_id`."""
    form = parse_qs(body.decode())
    return form.get("Action") == [action] and [vpc_id] in (
        values for name, values in form.items() if name.startswith("Filter.")
    )


def audit(capsys: pytest.CaptureFixture[str], *flags: str) -> tuple[int, dict[str, Any]]:
    code = main(["audit", "--output", "json", *flags])
    return code, json.loads(capsys.readouterr().out)


def gaps(report: dict[str, Any]) -> dict[str | None, str]:
    return {c["cluster"]: c["error"] for c in report["coverage"] if c["status"] == "error"}


def reported(report: dict[str, Any]) -> set[str]:
    return {c["name"] for c in report["clusters"]}


def test_one_vpc_whose_interfaces_are_refused_costs_only_its_cluster(
    world: World, faulty_aws: FaultyAws, capsys: pytest.CaptureFixture[str]
) -> None:
    vpc = world.organization.prod.vpc_id
    faulty_aws.fail = lambda service, region, body: asks(body, "DescribeNetworkInterfaces", vpc)

    code, report = audit(capsys)

    assert gaps(report) == {
        "shop-prod": f"VPC {vpc} not read: DescribeNetworkInterfaces: UnauthorizedOperation: "
        "You are not authorized to perform this operation."
    }
    assert reported(report) == EVERY_CLUSTER - {"shop-prod"}
    ok = {c["cluster"] for c in report["coverage"] if c["status"] == "ok"}
    assert ok == EVERY_CLUSTER - {"shop-prod"} | {None}  # None: us-east-1, where nothing runs
    assert code == 0  # clusters were read: a gap is not a failed run without --fail-on coverage

    code, _ = audit(capsys, "--fail-on", "coverage")
    assert code == 6


def test_one_vpc_whose_instance_pages_hang_costs_only_its_cluster_within_the_deadline(
    world: World, faulty_aws: FaultyAws, capsys: pytest.CaptureFixture[str]
) -> None:
    vpc = world.organization.search.vpc_id
    faulty_aws.hang = lambda service, region, body: asks(body, "DescribeInstances", vpc)

    code, report = audit(capsys, "--deadline", str(DEADLINE))

    (error,) = gaps(report).values()
    assert set(gaps(report)) == {"search"}
    assert error.startswith(f"VPC {vpc} not read: no answer within ")
    assert reported(report) == EVERY_CLUSTER - {"search"}
    shop = next(c for c in report["clusters"] if c["name"] == "shop-prod")
    assert len(shop["nodes"]) == 20 and shop["pods"] == 1200  # the article's, all of it
    assert code == 0
