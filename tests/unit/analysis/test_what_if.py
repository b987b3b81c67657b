"""`ipaudit what-if` answers are the CNI model's: the addresses held after a change equal
the simulation of every node (cni.simulate) under the same inputs the recommender uses."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from test_ceiling_counts import M5_LARGE, TWO_ZONES, _cluster, _group, _node, _subnet

from ipaudit.analysis.what_if import Question, answer, answer_report
from ipaudit.capacity.room import free_shares
from ipaudit.cni import CniSettings, simulate, startup_ips_held
from ipaudit.errors import InputError
from ipaudit.recommend.evaluate import evaluate, node_loads
from ipaudit.report import ClusterReport, Report


def _shop() -> ClusterReport:
    """Two nodes (10 addresses each, 5 and 9 pods) in two zones with 60 and 15 free."""
    return _cluster(
        [
            _subnet("subnet-a", "eu-west-1a", 60, ["nodes", "pods"]),
            _subnet("subnet-b", "eu-west-1b", 15, ["nodes", "pods"]),
        ],
        [_group("ng", TWO_ZONES, max_size=10)],
        nodes=[_node("subnet-a", 5), _node("subnet-b", 9)],
    )


@pytest.mark.parametrize(
    "question",
    [
        Question(settings={"WARM_IP_TARGET": "2"}),
        Question(settings={"WARM_ENI_TARGET": "2"}),
        Question(prefix_delegation=True, replace_nodes=True),
    ],
    ids=lambda q: q.describe(),
)
def test_a_settings_change_settles_every_node_as_the_simulation_does(question: Question) -> None:
    cluster = _shop()
    result = answer(cluster, question)
    env = {**(cluster.cni or {}), **{k: v for k, v in question.settings.items() if v}}
    if question.prefix_delegation:
        env["ENABLE_PREFIX_DELEGATION"] = "true"
    now, after = CniSettings(), CniSettings.from_env(env)
    loads = node_loads(cluster, cluster.instance_types, now, free=free_shares(cluster))
    # "now" is what the report says the nodes hold (10 + 10); the model's own figure for
    # today's settings is given under its own name.
    assert result.ips_held_now == 20
    assert result.ips_held_model_now == evaluate(now, loads).ips_held
    held = 0
    for load in loads:
        start = load.layout if after.prefix_delegation == load.prefix_mode else None
        step = simulate(
            load.limits,
            after,
            [load.pods],
            max_pods=load.max_pods,
            placement="spread",
            max_ips_held=load.max_ips_held,
            start=start,
        ).steps[0]
        held += step.ips_held
    assert result.ips_held_after == held


def test_prefix_delegation_reaches_only_new_nodes_unless_they_are_replaced() -> None:
    result = answer(_shop(), Question(prefix_delegation=True))
    # The existing nodes keep their secondary addresses: they hold what they hold.
    assert result.ips_held_after == result.ips_held_now == 20


def test_new_pods_go_to_warm_addresses_first_not_spread_over_every_node() -> None:
    # subnet-a's node has 4 warm, subnet-b's none: 3 more pods all fit on the warm ones.
    result = answer(_shop(), Question(add_pods=3))
    assert (result.pods_placed, result.pending_pods, result.fits) == (3, 0, True)
    # 5 + 3 = 8 pods on one full ENI (9): WARM_ENI_TARGET=1 wants 9 warm, so ipamd adds its
    # second ENI (1 + 9) from subnet-a: 20 + 10.
    assert result.ips_held_after == 30
    free = {s.subnet_id: s.free_after for s in result.subnets}
    assert free == {"subnet-a": 50, "subnet-b": 15}


def test_pods_beyond_every_nodes_max_pods_are_pending_for_want_of_node_room() -> None:
    # Kubelet admits 27 pods per m5.large: 22 + 18 = 40 more; 45 asked: 5 have no node.
    roomy = _cluster(
        [
            _subnet("subnet-a", "eu-west-1a", 200, ["nodes", "pods"]),
            _subnet("subnet-b", "eu-west-1b", 200, ["nodes", "pods"]),
        ],
        [_group("ng", TWO_ZONES, max_size=10)],
        nodes=[_node("subnet-a", 5), _node("subnet-b", 9)],
    )
    result = answer(roomy, Question(add_pods=45))
    assert (result.pods_placed, result.pending_no_node_room) == (40, 5)
    assert result.pending_no_address == 0
    assert "5 pods pending with no node room" in result.line
    assert "add nodes" in result.line


def test_pods_pending_for_want_of_an_address_say_so_and_not_node_room() -> None:
    # subnet-a's 60 give the first node its 2nd and 3rd ENIs (1 + 9 each): 4 warm + 18 = 22
    # pods; subnet-b's 15 give the second node one ENI: 9 pods. 40 asked: 31 placed, and 9
    # wait for an address while kubelet still has room for them (18 - 9).
    result = answer(_shop(), Question(add_pods=40))
    assert (result.pods_placed, result.pending_no_address, result.pending_no_node_room) == (
        31,
        9,
        0,
    )
    assert "no address to be had: more subnet room" in result.line


def test_new_nodes_hold_the_models_start_up_addresses_where_they_land() -> None:
    cluster = _shop()
    result = answer(cluster, Question(add_nodes=5, instance_type="m5.large", group="ng"))
    # eu-west-1a 60 free: 6 nodes; eu-west-1b 15: 1. Spread evenly: 1 and 1, then eu-west-1b
    # is full and eu-west-1a takes the other 3.
    assert (result.nodes_started, result.nodes_not_started) == (5, 0)
    need = startup_ips_held(M5_LARGE, {})
    assert result.ips_held_after - (result.ips_held_now or 0) == 5 * need
    free = {s.subnet_id: s.free_after for s in result.subnets}
    assert free == {"subnet-a": 60 - 4 * need, "subnet-b": 15 - need}
    assert result.first_zone_out == "eu-west-1b"
    assert "eu-west-1b runs out after 1" in result.line
    [after] = result.ceilings
    assert (after.current_nodes, after.nodes_wanted, after.nodes_possible) == (7, 3, 2)


def test_a_question_about_what_the_report_does_not_hold_is_one_line_naming_the_flag() -> None:
    report = Report("run", "2026-01-01T00:00:00Z", clusters=[_shop()])
    with pytest.raises(InputError, match=r"^--group: no node group or NodePool named 'nope'"):
        answer_report(report, Question(add_nodes=1, instance_type="m5.large", group="nope"))
    with pytest.raises(InputError, match=r"^--type: m6i.large is not among"):
        answer_report(report, Question(add_nodes=1, instance_type="m6i.large", group="ng"))
    with pytest.raises(InputError, match=r"^--settings: WARM_IP_TARGET: must be a whole number"):
        answer_report(report, Question(settings={"WARM_IP_TARGET": "two"}))
    with pytest.raises(InputError, match=r"^--cluster: no cluster named 'other'"):
        answer_report(report, Question(add_pods=1), cluster="other")


def _random_cluster(generator: random.Random, settings: dict[str, str]) -> ClusterReport:
    """Two to four m5.large nodes in one roomy subnet, each holding what ipamd settles on for
    its pods under `settings` (the simulation of a node that received them)."""
    nodes = []
    for index in range(generator.randint(2, 4)):
        pods = generator.randint(0, 27)
        step = simulate(M5_LARGE, CniSettings.from_env(settings), [pods], placement="pack")
        held = step.steps[0].secondary_ips
        enis = step.steps[0].enis
        nodes.append(
            replace(
                _node("subnet-a", pods),
                instance_id=f"i-{index}",
                enis=enis,
                ips_held=enis + held,
                secondary_ips=held,
                warm_ips=held - pods,
            )
        )
    return _cluster(
        [_subnet("subnet-a", "eu-west-1a", 5000, ["nodes", "pods"])],
        [_group("ng", TWO_ZONES[:1])],
        nodes=nodes,
        cni=settings,
    )


def test_more_pods_equal_stepping_the_simulation_node_by_node() -> None:
    """For random small clusters: what-if's "add M pods" holds what simulating each node with
    the pods placed on it holds, the pods placed as the README says (warm addresses first, the
    node with the most first; then the nodes that can obtain more, in report order)."""
    generator = random.Random(21)
    for _ in range(60):
        settings = generator.choice([{}, {"WARM_IP_TARGET": "2"}, {"WARM_ENI_TARGET": "2"}])
        cluster = _random_cluster(generator, settings)
        more = generator.randint(1, 60)
        room = [max(0, 27 - (n.pods or 0)) for n in cluster.nodes]
        warm = [n.warm_ips or 0 for n in cluster.nodes]
        added = [0] * len(cluster.nodes)
        left = more
        for i in sorted(range(len(added)), key=lambda i: -warm[i]):
            take = min(left, room[i], warm[i])
            added[i] += take
            left -= take
        for i in range(len(added)):
            take = min(left, room[i] - added[i])
            added[i] += take
            left -= take
        loads = node_loads(cluster, cluster.instance_types, CniSettings.from_env(settings))
        expected = 0
        for node, load, extra in zip(cluster.nodes, loads, added, strict=True):
            if not extra:
                expected += node.ips_held
                continue
            step = simulate(
                M5_LARGE,
                CniSettings.from_env(settings),
                [load.pods + extra],
                max_pods=load.max_pods,
                placement="spread",
                start=load.layout,
            ).steps[0]
            expected += step.ips_held
        result = answer(cluster, Question(add_pods=more))
        assert result.pods_placed == more - left
        assert result.ips_held_after == expected, (settings, more, cluster.nodes)


def test_pods_placed_leave_that_much_less_room_in_the_ceiling_after() -> None:
    roomy = _cluster(
        [_subnet("subnet-a", "eu-west-1a", 200, ["nodes", "pods"])],
        [_group("ng", TWO_ZONES[:1])],
        nodes=[_node("subnet-a", 5), _node("subnet-a", 9)],
    )
    [before] = answer(roomy, Question(settings={"WARM_IP_TARGET": "1"})).ceilings
    assert before.pods_fit_now == 22 + 18  # kubelet's room; the subnet has plenty
    result = answer(roomy, Question(add_pods=25))
    [after] = result.ceilings
    assert after.pods_fit_now == 40 - 25


def test_more_nodes_equal_starting_them_one_by_one() -> None:
    """For random zones: what-if's "add N nodes" starts what launching them one at a time
    does — a zone holds free // 10 new m5.large (1 + 9 on the primary ENI each), the nodes are
    spread evenly, a full zone skipped — and the nodes hold 10 more each."""
    generator = random.Random(5)
    for _ in range(60):
        free_a, free_b = generator.randint(0, 120), generator.randint(0, 120)
        cluster = _cluster(
            [
                _subnet("subnet-a", "eu-west-1a", free_a, ["nodes", "pods"]),
                _subnet("subnet-b", "eu-west-1b", free_b, ["nodes", "pods"]),
            ],
            [_group("ng", TWO_ZONES, max_size=100)],
            nodes=[_node("subnet-a", 5), _node("subnet-b", 9)],
        )
        wanted = generator.randint(1, 30)
        caps = {"eu-west-1a": free_a // 10, "eu-west-1b": free_b // 10}
        started = {"eu-west-1a": 0, "eu-west-1b": 0}
        for _ in range(wanted):  # one at a time, to the zone with fewer new nodes that has room
            open_zones = [z for z in sorted(caps) if started[z] < caps[z]]
            if not open_zones:
                break
            zone = min(open_zones, key=lambda z: (started[z], z))
            started[zone] += 1
        result = answer(cluster, Question(add_nodes=wanted, instance_type="m5.large", group="ng"))
        assert result.nodes_started == sum(started.values()), (free_a, free_b, wanted)
        assert result.ips_held_after == 20 + 10 * sum(started.values())
        free = {s.subnet_id: s.free_after for s in result.subnets}
        assert free == {
            "subnet-a": free_a - 10 * started["eu-west-1a"],
            "subnet-b": free_b - 10 * started["eu-west-1b"],
        }
