"""`ipaudit max-pods`: EKS AMI values from DescribeInstanceTypes (moto carries AWS's figures)."""

from __future__ import annotations

import json

import boto3
import pytest

from ipaudit.cli import main


def test_max_pods_json_for_the_common_types(
    aws: boto3.Session, capsys: pytest.CaptureFixture[str]
) -> None:
    types = ["m5.large", "m5.8xlarge", "t3.medium", "m5.24xlarge", "m4.4xlarge"]
    assert main(["max-pods", *types, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["instance_type"] for row in rows] == types
    assert set(rows[0]) == {
        "instance_type",
        "max_enis",
        "ipv4_per_eni",
        "vcpus",
        "max_pods",
        "max_pods_custom_networking",
        "max_pods_prefix_delegation",
    }
    values = {
        row["instance_type"]: (
            row["max_pods"],
            row["max_pods_custom_networking"],
            row["max_pods_prefix_delegation"],
        )
        for row in rows
    }
    assert values == {
        "m5.large": (29, 20, 110),
        "m5.8xlarge": (234, 205, 250),  # (8-1)*(30-1)+2
        "t3.medium": (17, 12, 110),
        "m5.24xlarge": (737, 688, 250),
        "m4.4xlarge": (234, 205, 110),  # xen: no prefixes, the calculator's capped value
    }
    assert (rows[1]["max_enis"], rows[1]["ipv4_per_eni"], rows[1]["vcpus"]) == (8, 30, 32)


def test_max_pods_table(aws: boto3.Session, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["max-pods", "m5.large"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["m5.large", "3", "10", "2", "29", "20", "110"]


def test_an_unknown_type_exits_1_naming_it(
    aws: boto3.Session, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["max-pods", "m5.large", "z9.nothing"]) == 1
    captured = capsys.readouterr()
    [line] = captured.err.strip().splitlines()
    assert "z9.nothing" in line and captured.out == ""
