"""`ipaudit simulate`: the scenario in, docs/design.md's output shape out; types through moto."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from ipaudit.cli import main

STEP_FIELDS = {
    "pods_wanted",
    "pods",
    "pending",
    "enis",
    "secondary_ips",
    "prefixes",
    "ips_held",
    "warm_ips",
}


def _write(tmp_path: Path, scenario: dict[str, Any]) -> str:
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(scenario), encoding="utf-8")
    return str(path)


def _run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    assert main(["simulate", *argv, "--json"]) == 0
    result: dict[str, Any] = json.loads(capsys.readouterr().out)
    return result


def test_offline_scenario_prints_the_article_numbers_in_the_design_shape(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = {
        "instance": {"max_enis": 8, "ipv4_per_eni": 30},
        "cni": {"WARM_ENI_TARGET": 1},
        "placement": "pack",
        "steps": [100, 10],
    }
    output = _run_json(capsys, _write(tmp_path, scenario))
    assert set(output) == {"steps", "ec2_calls"}
    assert all(set(step) == STEP_FIELDS for step in output["steps"])
    first, second = output["steps"]
    assert (first["pods_wanted"], first["enis"], first["ips_held"], first["warm_ips"]) == (
        100,
        5,
        150,
        45,
    )
    assert (second["pods"], second["pending"], second["enis"], second["ips_held"]) == (10, 0, 2, 60)
    assert second["prefixes"] == 0
    assert output["ec2_calls"]["total"] == sum(
        n for api, n in output["ec2_calls"].items() if api != "total"
    )


def test_spread_keeps_the_150(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = {"instance": {"max_enis": 8, "ipv4_per_eni": 30}, "steps": [100, 10]}
    output = _run_json(capsys, _write(tmp_path, scenario))
    assert [step["ips_held"] for step in output["steps"]] == [150, 150]


def test_an_instance_type_is_resolved_with_describe_instance_types(
    aws: boto3.Session, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = {
        "instance": {"type": "m5.8xlarge"},
        "cni": {"ENABLE_PREFIX_DELEGATION": True, "WARM_PREFIX_TARGET": 1},
        "steps": [100],
    }
    [step] = _run_json(capsys, _write(tmp_path, scenario))["steps"]
    # ceil(100 / 16) + 1 prefixes on the primary ENI
    assert (step["prefixes"], step["ips_held"]) == (8, 129)


def test_the_table_shows_every_step(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = {"instance": {"max_enis": 8, "ipv4_per_eni": 30}, "steps": [100, 10]}
    assert main(["simulate", _write(tmp_path, scenario)]) == 0
    out = capsys.readouterr().out
    assert "WARM_ENI_TARGET=1" in out and "EC2 calls: 17" in out
    assert len([line for line in out.splitlines() if line.split()[:1] in (["1"], ["2"])]) == 2


@pytest.mark.parametrize(
    ("scenario", "field"),
    [
        ({"instance": {"max_enis": 8, "ipv4_per_eni": 30}, "steps": [5], "extra": 1}, "extra"),
        ({"instance": {"max_enis": 8, "ipv4_per_eni": 30}, "steps": [-1]}, "steps[0]"),
        (
            {"instance": {"max_enis": 8, "ipv4_per_eni": 30}, "steps": [1], "placement": "x"},
            "placement",
        ),
    ],
)
def test_a_malformed_scenario_exits_1_with_one_line_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], scenario: dict[str, Any], field: str
) -> None:
    assert main(["simulate", _write(tmp_path, scenario), "--json"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    [line] = captured.err.strip().splitlines()
    assert f"scenario: {field}:" in line


def test_an_unknown_type_exits_1_naming_it(
    aws: boto3.Session, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = {"instance": {"type": "m5.gigantic"}, "steps": [1]}
    assert main(["simulate", _write(tmp_path, scenario)]) == 1
    captured = capsys.readouterr()
    [line] = captured.err.strip().splitlines()
    assert "m5.gigantic" in line and captured.out == ""


def test_a_missing_file_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", str(tmp_path / "nope.json")]) == 1
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "SCENARIO" in line and "nope.json" in line


def test_security_groups_for_pods_gives_the_trunk_one_eni_slot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 3 ENIs x 10: with the trunk in one slot, two pool ENIs hold 18 addresses for 20 pods.
    scenario = {
        "instance": {"max_enis": 3, "ipv4_per_eni": 10},
        "cni": {"ENABLE_POD_ENI": True},
        "steps": [20],
    }
    [step] = _run_json(capsys, _write(tmp_path, scenario))["steps"]
    assert (step["pods"], step["pending"], step["enis"], step["ips_held"]) == (18, 2, 3, 21)
