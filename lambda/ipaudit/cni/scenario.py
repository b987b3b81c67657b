"""The `ipaudit simulate` scenario (docs/design.md), parsed and checked before anything runs.

Every problem is one line naming the field: an unknown field, a negative pod count, a placement
that does not exist, a setting the model cannot use. Instance type names are checked where they
are resolved (DescribeInstanceTypes).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ipaudit.cni.cni_settings import BOOL_VARIABLES, INT_VARIABLES, CniSettings, CniSettingsError
from ipaudit.cni.placement import PLACEMENTS
from ipaudit.errors import InputError
from ipaudit.snapshot import InstanceTypeLimits

FIELDS = ("instance", "max_pods", "cni", "placement", "seed", "steps")
CNI_FIELDS = tuple(v for v in INT_VARIABLES + BOOL_VARIABLES if v != "ENABLE_IPv6")
OFFLINE_TYPE = "custom"  # the name an instance given by its numbers goes by


class ScenarioError(InputError):
    """The scenario is malformed; the message names the field."""


@dataclass(frozen=True)
class Scenario:
    instance_type: str | None  # resolved with DescribeInstanceTypes
    limits: InstanceTypeLimits | None  # given directly: runs offline
    settings: CniSettings
    steps: tuple[int, ...]
    placement: str = "spread"
    seed: int = 0
    max_pods: int | None = None  # None: E*(I-1)+2


def load_scenario(text: str) -> Scenario:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ScenarioError(
            f"scenario: not valid JSON at line {error.lineno} column {error.colno}: {error.msg}"
        ) from None
    except RecursionError:
        raise ScenarioError("scenario: nested too deeply to be a scenario") from None
    except ValueError:
        # Python refuses integers of more than 4300 digits while parsing; no count is that big.
        raise ScenarioError("scenario: holds a number too long to be a count") from None
    return parse_scenario(data)


def parse_scenario(data: Any) -> Scenario:
    if not isinstance(data, dict):
        raise ScenarioError("scenario: must be a JSON object")
    _no_unknown(data, FIELDS, "")
    for required in ("instance", "steps"):
        if required not in data:
            raise ScenarioError(f"scenario: {required}: missing")
    instance_type, limits = _instance(data["instance"])
    placement = data.get("placement", "spread")
    if placement not in PLACEMENTS:
        raise ScenarioError(
            f"scenario: placement: must be one of {', '.join(PLACEMENTS)}, got {placement!r}"
        )
    max_pods = data.get("max_pods")
    return Scenario(
        instance_type=instance_type,
        limits=limits,
        settings=_settings(data.get("cni", {})),
        steps=_steps(data["steps"]),
        placement=placement,
        seed=_whole(data.get("seed", 0), "seed", minimum=0),
        max_pods=None if max_pods is None else _whole(max_pods, "max_pods", minimum=1),
    )


def _no_unknown(data: Mapping[str, Any], known: tuple[str, ...], where: str) -> None:
    for name in data:
        if name not in known:
            raise ScenarioError(
                f"scenario: {where}{name}: unknown field (known: {', '.join(known)})"
            )


def _whole(value: Any, field: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ScenarioError(f"scenario: {field}: must be a whole number, got {value!r}")
    if value < minimum:
        raise ScenarioError(f"scenario: {field}: must be {minimum} or more, got {value}")
    return value


def _instance(value: Any) -> tuple[str | None, InstanceTypeLimits | None]:
    if not isinstance(value, dict):
        raise ScenarioError(
            'scenario: instance: must be {"type": ...} or {"max_enis": ..., "ipv4_per_eni": ...}'
        )
    _no_unknown(value, ("type", "max_enis", "ipv4_per_eni"), "instance.")
    if "type" in value:
        if len(value) > 1:
            raise ScenarioError("scenario: instance: give either type or max_enis and ipv4_per_eni")
        name = value["type"]
        if not isinstance(name, str) or not name.strip():
            raise ScenarioError(
                f"scenario: instance.type: must be an instance type name, got {name!r}"
            )
        return name.strip(), None
    for required in ("max_enis", "ipv4_per_eni"):
        if required not in value:
            raise ScenarioError(f"scenario: instance.{required}: missing (or give instance.type)")
    limits = InstanceTypeLimits(
        instance_type=OFFLINE_TYPE,
        max_enis=_whole(value["max_enis"], "instance.max_enis", minimum=1),
        # an ENI's primary address never goes to pods: one more is needed for any pod at all
        ipv4_per_eni=_whole(value["ipv4_per_eni"], "instance.ipv4_per_eni", minimum=2),
        vcpus=0,
        hypervisor="nitro",
    )
    return None, limits


def _settings(value: Any) -> CniSettings:
    if not isinstance(value, dict):
        raise ScenarioError("scenario: cni: must be an object of aws-node settings")
    _no_unknown(value, CNI_FIELDS, "cni.")
    env: dict[str, str] = {}
    for name, setting in value.items():
        if isinstance(setting, str):
            # As aws-node reads its environment (and `what-if --settings` takes it): "2", "true".
            env[name] = setting
        elif name in BOOL_VARIABLES:
            if not isinstance(setting, bool):
                raise ScenarioError(f"scenario: cni.{name}: must be true or false, got {setting!r}")
            env[name] = "true" if setting else "false"
        else:
            env[name] = str(_whole(setting, f"cni.{name}", minimum=-1 if name == "MAX_ENI" else 0))
    try:
        return CniSettings.from_env(env)
    except CniSettingsError as error:
        raise ScenarioError(f"scenario: cni.{error}") from None


def _steps(value: Any) -> tuple[int, ...]:
    if not isinstance(value, list) or not value:
        raise ScenarioError("scenario: steps: must be a non-empty list of pod counts")
    return tuple(_whole(pods, f"steps[{i}]", minimum=0) for i, pods in enumerate(value))
