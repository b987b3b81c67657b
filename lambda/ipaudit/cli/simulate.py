"""`ipaudit simulate SCENARIO.json [--json]`: the CNI model on one node (docs/design.md)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ipaudit.cli.options import add_aws_flags, session_from
from ipaudit.cni.scenario import Scenario, load_scenario
from ipaudit.cni.simulator import SimulationResult, simulate
from ipaudit.errors import InputError
from ipaudit.snapshot import InstanceTypeLimits

_COLUMNS = (
    ("pods_wanted", "wanted"),
    ("pods", "pods"),
    ("pending", "pending"),
    ("enis", "ENIs"),
    ("secondary_ips", "secondary"),
    ("prefixes", "prefixes"),
    ("ips_held", "held"),
    ("warm_ips", "warm"),
)


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "simulate",
        help="run the model of aws-node's warm pool on one node",
        description="Run ipamd's pool manager on one node through the scenario's pod counts "
        "and show the addresses it holds after each step.",
    )
    parser.add_argument("scenario", metavar="SCENARIO.json", help="the scenario (docs/design.md)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    add_aws_flags(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    scenario = load_scenario(_read(args.scenario))
    limits = _limits(scenario, args)
    result = simulate(
        limits,
        scenario.settings,
        scenario.steps,
        max_pods=scenario.max_pods,
        placement=scenario.placement,
        seed=scenario.seed,
    )
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(_table(limits, scenario, result))
    return 0


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(
            f"SCENARIO: cannot read {path}: {getattr(error, 'strerror', error)}"
        ) from None


def _limits(scenario: Scenario, args: argparse.Namespace) -> InstanceTypeLimits:
    if scenario.limits is not None:
        return scenario.limits
    assert scenario.instance_type is not None
    from ipaudit.aws.instance_types import describe_instance_types
    from ipaudit.aws.session import make_client

    ec2 = make_client(session_from(args), "ec2")
    return describe_instance_types(ec2, [scenario.instance_type])[scenario.instance_type]


def _table(limits: InstanceTypeLimits, scenario: Scenario, result: SimulationResult) -> str:
    lines = [
        f"{limits.instance_type}: {limits.max_enis} ENIs x {limits.ipv4_per_eni} IPv4, "
        f"{scenario.settings.describe()}, placement {scenario.placement}",
        "  ".join(f"{title:>9}" for _, title in (("step", "step"), *_COLUMNS)),
    ]
    for number, step in enumerate(result.steps, start=1):
        values = step.to_dict()
        cells = [f"{number:>9}"] + [f"{values[key]:>9}" for key, _ in _COLUMNS]
        if not step.settled:
            cells.append("(still changing: ipamd never settles here)")
        lines.append("  ".join(cells))
    calls = {api: n for api, n in result.ec2_calls.items() if api != "total" and n}
    detail = ", ".join(f"{api} {n}" for api, n in calls.items())
    lines.append(f"EC2 calls: {result.ec2_calls['total']}" + (f" ({detail})" if detail else ""))
    return "\n".join(lines)
