"""A subnet other audited clusters draw on too: its free addresses are counted once, shared out,
never claimed by two clusters' recommendations."""

from __future__ import annotations

from dataclasses import replace

from test_recommender import LIMITS, _cluster, _node, _subnet

from ipaudit.capacity.room import free_shares
from ipaudit.cni.cni_settings import CniSettings
from ipaudit.recommend import recommend
from ipaudit.recommend.evaluate import node_loads
from ipaudit.report import ClusterReport


def _on_shared(name: str, free: int, clusters: list[str]) -> ClusterReport:
    subnet = replace(_subnet("subnet-a", 251, free), clusters=clusters)
    nodes = [_node(i, "m5.large", "subnet-a", 2, 18, 4) for i in range(2)]
    return replace(_cluster(nodes, [subnet]), name=name)


def test_each_cluster_counts_an_equal_share_the_odd_address_to_the_first_by_name() -> None:
    # 41 free between blue and green: 21 and 20, 41 in all.
    assert free_shares(_on_shared("blue", 41, ["blue", "green"])) == {"subnet-a": 21}
    assert free_shares(_on_shared("green", 41, ["blue", "green"])) == {"subnet-a": 20}
    # Alone in its subnet, a cluster counts all of it.
    assert free_shares(_on_shared("blue", 41, ["blue"])) == {"subnet-a": 41}


def test_each_node_is_bounded_by_its_clusters_share() -> None:
    # Each node holds 2 + 18 = 20 on two ENIs; green's share is 20 of the 41 free, not all 41,
    # and its third ENI (1 + 9) is all an m5.large can still attach: 20 + 10.
    green = _on_shared("green", 41, ["blue", "green"])
    loads = node_loads(green, LIMITS, CniSettings(), free=free_shares(green))
    assert [load.max_ips_held for load in loads] == [30, 30]


def test_the_rationale_says_the_subnet_is_shared_and_what_is_counted() -> None:
    # A large warm pool (28 warm for 8 pods, more than a tenth of 251) is worth tuning.
    rec = recommend(_on_shared("green", 41, ["blue", "green"]), LIMITS)
    assert rec is not None and rec.kind == "tune"
    assert (
        "subnet-a is shared with blue: its 41 free addresses are counted once, 20 of them as "
        "this cluster's room"
    ) in rec.rationale
