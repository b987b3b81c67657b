"""The simulate scenario: parsed exactly as docs/design.md shows it, refused field by field."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ipaudit.cni.cni_settings import CniSettings
from ipaudit.cni.scenario import ScenarioError, load_scenario, parse_scenario
from ipaudit.errors import InputError

DESIGN_EXAMPLE: dict[str, Any] = {
    "instance": {"type": "m5.8xlarge"},
    "max_pods": 234,
    "cni": {
        "WARM_ENI_TARGET": 1,
        "WARM_IP_TARGET": 0,
        "MINIMUM_IP_TARGET": 0,
        "ENABLE_PREFIX_DELEGATION": False,
        "WARM_PREFIX_TARGET": 0,
        "MAX_ENI": 0,
        "AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG": False,
    },
    "placement": "spread",
    "seed": 0,
    "steps": [100, 10],
}


def test_the_design_example_parses() -> None:
    scenario = parse_scenario(DESIGN_EXAMPLE)
    assert scenario.instance_type == "m5.8xlarge" and scenario.limits is None
    assert scenario.settings == CniSettings()
    assert (scenario.steps, scenario.placement, scenario.seed, scenario.max_pods) == (
        (100, 10),
        "spread",
        0,
        234,
    )


def test_an_instance_given_by_its_numbers_runs_offline() -> None:
    scenario = parse_scenario({"instance": {"max_enis": 8, "ipv4_per_eni": 30}, "steps": [5]})
    assert scenario.instance_type is None
    assert scenario.limits is not None
    assert (scenario.limits.max_enis, scenario.limits.ipv4_per_eni) == (8, 30)
    assert (scenario.placement, scenario.max_pods) == ("spread", None)


def _with(**changes: Any) -> dict[str, Any]:
    return {**DESIGN_EXAMPLE, **changes}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (_with(colour="blue"), "colour"),
        (_with(steps=[100, -5]), "steps[1]"),
        (_with(steps=[True]), "steps[0]"),
        (_with(steps=[]), "steps"),
        (_with(placement="scatter"), "placement"),
        (_with(seed=-1), "seed"),
        (_with(max_pods=0), "max_pods"),
        (_with(instance={"type": "m5.8xlarge", "max_enis": 8}), "instance"),
        (_with(instance={"max_enis": 8}), "instance.ipv4_per_eni"),
        (_with(instance={"max_enis": 8, "ipv4_per_eni": 1}), "instance.ipv4_per_eni"),
        (_with(instance={"type": ""}), "instance.type"),
        (_with(instance={"size": 3}), "instance.size"),
        (_with(cni={"WARM_IP_TARGT": 2}), "cni.WARM_IP_TARGT"),
        (_with(cni={"WARM_IP_TARGET": -2}), "cni.WARM_IP_TARGET"),
        (_with(cni={"ENABLE_PREFIX_DELEGATION": "maybe"}), "cni.ENABLE_PREFIX_DELEGATION"),
        ({"steps": [1]}, "instance"),
    ],
)
def test_a_malformed_scenario_is_one_line_naming_the_field(data: Any, field: str) -> None:
    with pytest.raises(ScenarioError) as error:
        parse_scenario(data)
    message = str(error.value)
    assert message.startswith(f"scenario: {field}:"), message
    assert "\n" not in message
    assert isinstance(error.value, InputError)


def test_invalid_json_names_the_position() -> None:
    with pytest.raises(ScenarioError, match="line 1 column"):
        load_scenario('{"steps": [1,]}')


def test_load_accepts_the_json_text() -> None:
    assert load_scenario(json.dumps(DESIGN_EXAMPLE)).steps == (100, 10)


def test_security_groups_for_pods_is_a_scenario_setting() -> None:
    scenario = parse_scenario(_with(cni={"ENABLE_POD_ENI": True}))
    assert scenario.settings.pod_eni
    with pytest.raises(
        ScenarioError, match=r"^scenario: cni\.ENABLE_POD_ENI: must be true or false"
    ):
        parse_scenario(_with(cni={"ENABLE_POD_ENI": "yes"}))


def test_settings_may_be_written_as_aws_node_reads_them_as_what_if_takes_them() -> None:
    scenario = parse_scenario(_with(cni={"WARM_IP_TARGET": "2", "ENABLE_POD_ENI": "true"}))
    assert (scenario.settings.warm_ip_target, scenario.settings.pod_eni) == (2, True)
    with pytest.raises(ScenarioError, match=r"^scenario: cni\.WARM_IP_TARGET: must be a whole"):
        parse_scenario(_with(cni={"WARM_IP_TARGET": "two"}))
