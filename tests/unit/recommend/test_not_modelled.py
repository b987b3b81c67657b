"""Recommendations only where the model applies: aws-node's Linux nodes in IPv4. Other shapes
get `not-modelled` and what a person can do instead; mixed clusters are recommended for the
modelled nodes only, and say so."""

from __future__ import annotations

from dataclasses import replace

import pytest
from test_recommender import LIMITS, _article, _node

from ipaudit.recommend import recommend
from ipaudit.report import ClusterReport


def _mode(mode: str, cni: dict[str, str] | None = None) -> ClusterReport:
    return replace(_article(), network_mode=mode, cni=cni)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("mode", "cni", "says"),
    [
        ("auto-mode", None, "podSubnetSelectorTerms"),
        ("auto-mode", None, "create-subnet-cidr-reservation --reservation-type prefix"),
        ("vpc-cni-ipv6", {"ENABLE_IPv6": "true"}, "one IPv4 address (its primary)"),
        ("other-cni", None, "another CNI hands out the pod addresses"),
        ("unknown", None, "AmazonEKSViewPolicy"),
    ],
)
def test_a_shape_the_model_does_not_cover_is_not_modelled_and_says_what_helps(
    mode: str, cni: dict[str, str] | None, says: str
) -> None:
    cluster = _mode(mode, cni)
    rec = recommend(cluster, LIMITS)
    assert rec is not None and rec.kind == "not-modelled"
    assert (rec.settings, rec.command, rec.ips_returned) == ({}, "", 0)
    assert rec.projected_ips_held == rec.current_ips_held == cluster.ips_held == 4500
    assert says in rec.rationale


def test_no_aws_node_never_gets_an_aws_node_command() -> None:
    # A cluster without aws-node (Cilium in ENI mode) is never told to set aws-node's env.
    rec = recommend(_mode("vpc-cni", None), LIMITS)
    assert rec is not None and rec.kind == "not-modelled" and "aws-node" not in rec.command


def test_windows_only_nodes_are_not_modelled() -> None:
    nodes = [replace(n, aws_node=False, os="windows") for n in _article().nodes]
    rec = recommend(replace(_article(), nodes=nodes), LIMITS)
    assert rec is not None and rec.kind == "not-modelled"
    assert "30 Windows nodes" in rec.rationale and "VPC resource controller" in rec.rationale


def test_a_mixed_cluster_is_recommended_for_its_modelled_nodes_only_and_says_so() -> None:
    alone = recommend(_article(), LIMITS)
    windows = [
        replace(_node(100 + i, "m5.8xlarge", "subnet-a", 2, 40, 20), aws_node=False, os="windows")
        for i in range(2)
    ]
    mixed = _article()
    mixed = replace(mixed, nodes=[*mixed.nodes, *windows])
    rec = recommend(mixed, LIMITS)
    assert alone is not None and rec is not None and rec.kind == alone.kind == "tune"
    # The same settings and the same addresses back as the 30 Linux nodes alone.
    assert (rec.settings, rec.ips_returned, rec.command) == (
        alone.settings,
        alone.ips_returned,
        alone.command,
    )
    assert rec.rationale.startswith(alone.rationale)
    assert "This covers the 30 nodes aws-node manages; the other 2 are not modelled" in (
        rec.rationale
    )
    assert "2 Windows nodes" in rec.rationale
