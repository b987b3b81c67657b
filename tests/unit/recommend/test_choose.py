"""Choosing among simulated candidates: never one that leaves pods waiting or starves them."""

from __future__ import annotations

from dataclasses import replace

from ipaudit.cni.cni_settings import CniSettings
from ipaudit.recommend.candidates import Candidate
from ipaudit.recommend.choose import (
    EC2_CALLS_PER_POD_START,
    Room,
    ShortBlocks,
    choose,
    short_blocks,
)
from ipaudit.recommend.evaluate import Outcome

NOW = Outcome(CniSettings(), 1500, 1200, 0, 1500, 0, 50, 300, 20, {"subnet-a": 1500})
ROOM = Room(addresses={"subnet-a": 2000}, free_prefix_blocks={"subnet-a": 10})


def _option(env: dict[str, str], held: int, **outcome: object) -> tuple[Candidate, Outcome]:
    settings = CniSettings.from_env(env)
    fields: dict[str, object] = {
        "ips_held": held,
        "warm_ips": 0,
        "pending": 0,
        "burst_ips_held": held,
        "burst_prefixes": 0,
        "ec2_calls": 30,
        "pod_starts": 300,
        "burst_seconds": 30,
    }
    fields.update(outcome)
    fields["held_by_subnet"] = {"subnet-a": fields["ips_held"]}
    fields["burst_held_by_subnet"] = {"subnet-a": fields["burst_ips_held"]}
    fields["burst_prefixes_by_subnet"] = {"subnet-a": fields["burst_prefixes"]}
    return Candidate(env, settings), Outcome(settings, **fields)  # type: ignore[arg-type]


def test_the_candidate_holding_the_fewest_addresses_wins() -> None:
    options = [_option({"WARM_IP_TARGET": "8"}, 600), _option({"WARM_IP_TARGET": "2"}, 400)]
    best = choose(NOW, options, ROOM)
    assert best is not None and best[0].changes == {"WARM_IP_TARGET": "2"}


def test_a_candidate_with_pending_pods_is_never_chosen() -> None:
    options = [
        _option({"WARM_IP_TARGET": "2"}, 300, pending=4),
        _option({"WARM_IP_TARGET": "4"}, 450),
    ]
    best = choose(NOW, options, ROOM)
    assert best is not None and best[0].changes == {"WARM_IP_TARGET": "4"}
    assert choose(NOW, options[:1], ROOM) is None


def test_warm_zero_with_a_minimum_is_never_chosen() -> None:
    assert choose(NOW, [_option({"MINIMUM_IP_TARGET": "12"}, 100)], ROOM) is None


def test_candidates_over_the_ec2_budget_are_rejected() -> None:
    calls = int(EC2_CALLS_PER_POD_START * 300) + 1
    assert choose(NOW, [_option({"WARM_IP_TARGET": "2"}, 100, ec2_calls=calls)], ROOM) is None


def test_prefix_delegation_needs_free_28_blocks() -> None:
    prefix = {"ENABLE_PREFIX_DELEGATION": "true", "WARM_PREFIX_TARGET": "1"}
    option = _option(prefix, 500, burst_prefixes=40)
    assert choose(NOW, [option], ROOM) is None
    assert choose(NOW, [option], Room({"subnet-a": 2000}, {"subnet-a": 40})) is not None


def test_candidates_needing_more_than_the_subnets_have_are_rejected() -> None:
    option = _option({"WARM_IP_TARGET": "2", "MINIMUM_IP_TARGET": "90"}, 900, burst_ips_held=2500)
    assert choose(NOW, [option], ROOM) is None


def test_prefix_delegation_needs_the_blocks_in_each_pool_subnet_not_in_all() -> None:
    # 20 /28 blocks needed in subnet-a and 20 in subnet-b: 40 free in all, but subnet-a has 5.
    prefix = {"ENABLE_PREFIX_DELEGATION": "true", "WARM_PREFIX_TARGET": "1"}
    candidate, outcome = _option(prefix, 500, burst_prefixes=40)
    outcome = replace(outcome, burst_prefixes_by_subnet={"subnet-a": 20, "subnet-b": 20})
    room = Room(
        addresses={"subnet-a": 2000, "subnet-b": 2000},
        free_prefix_blocks={"subnet-a": 5, "subnet-b": 35},
    )
    assert choose(NOW, [(candidate, outcome)], room) is None
    assert short_blocks(NOW, outcome, room) == [ShortBlocks("subnet-a", 20, 5)]
    roomy = Room(room.addresses, {"subnet-a": 20, "subnet-b": 20})
    assert choose(NOW, [(candidate, outcome)], roomy) is not None
    assert short_blocks(NOW, outcome, roomy) == []


def test_each_pool_subnet_must_hold_what_its_nodes_need() -> None:
    # 900 addresses in all fit 2000 + 2000, but subnet-b's nodes need 700 of its 600.
    candidate, outcome = _option({"WARM_IP_TARGET": "2"}, 900)
    outcome = replace(outcome, held_by_subnet={"subnet-a": 200, "subnet-b": 700})
    room = Room({"subnet-a": 2000, "subnet-b": 600}, {})
    assert choose(NOW, [(candidate, outcome)], room) is None
