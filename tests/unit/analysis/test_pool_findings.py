"""Under enhanced subnet discovery a zone whose pods draw on several subnets is one pool: it is
short only when all of them together are, and its launch subnet blocks only new nodes."""

from __future__ import annotations

from dataclasses import replace

from ipaudit.analysis.findings import cluster_findings
from ipaudit.report import ClusterReport, NodeReport, SubnetReport
from ipaudit.settings import Settings
from ipaudit.snapshot import InstanceTypeLimits

SETTINGS = Settings()  # warn below 25%, critical below 10%
LIMITS = {"m5.large": InstanceTypeLimits("m5.large", 3, 10, 2, "nitro")}


def subnet(subnet_id: str, free: int, usable: int, roles: list[str]) -> SubnetReport:
    return SubnetReport(
        subnet_id,
        "10.0.0.0/24",
        "eu-west-1a",
        usable,
        free,
        round(100 * free / usable, 1),
        0,
        roles=roles,
    )


def pooled(node_free: int, tagged_free: int) -> ClusterReport:
    node = NodeReport(
        "i-1",
        "m5.large",
        "subnet-node",
        3,
        30,
        27,
        27,
        0,
        pool_subnet_id="subnet-tagged",
        pool_subnet_ids=["subnet-tagged", "subnet-node"],
    )
    return ClusterReport(
        "111111111111",
        "eu-west-1",
        "search",
        "vpc-1",
        {},
        [
            subnet("subnet-node", node_free, 251, ["nodes", "pods", "control-plane"]),
            subnet("subnet-tagged", tagged_free, 1019, ["pods"]),
        ],
        [node],
        [],
        30,
        27,
        0,
        subnet_discovery=True,
    )


def found(cluster: ClusterReport) -> list[tuple[str, str, str]]:
    return [(f.kind, f.severity, f.resource) for f in cluster_findings(cluster, SETTINGS, LIMITS)]


def test_a_full_launch_subnet_blocks_new_nodes_not_pods() -> None:
    [finding] = cluster_findings(pooled(node_free=0, tagged_free=899), SETTINGS, LIMITS)
    assert (finding.kind, finding.severity, finding.resource) == (
        "subnet_headroom",
        "CRITICAL",
        "subnet-node",
    )
    assert "new m5.large nodes cannot launch in it" in finding.message


def test_an_untagged_launch_subnet_is_charged_the_primary_enis_ten_not_one() -> None:
    # Under discovery the primary ENI still fills from the launch subnet: a new m5.large takes
    # 1 + 9 there. 7 free cannot start one (domain note, "Where a new node lands").
    [finding] = cluster_findings(pooled(node_free=7, tagged_free=899), SETTINGS, LIMITS)
    assert (finding.severity, finding.resource) == ("CRITICAL", "subnet-node")
    assert "each takes 10 here at start-up" in finding.message


def test_a_launch_subnet_low_but_not_empty_counts_the_nodes_it_can_still_take_at_ten_each() -> None:
    # 40 of 251 free (15.9%): below the 25% warning, above the 10% critical; 40 // 10 = 4.
    [finding] = cluster_findings(pooled(node_free=40, tagged_free=899), SETTINGS, LIMITS)
    assert finding.severity == "WARNING"
    assert "4 more m5.large nodes can launch in it" in finding.message


def test_the_pool_is_short_when_no_subnet_of_it_can_hold_one_more_eni() -> None:
    # A new ENI of an m5.large takes 1 + 9 in one subnet: 0 and 5 free cannot hold one.
    assert found(pooled(node_free=0, tagged_free=5)) == [
        ("subnet_headroom", "CRITICAL", "subnet-node"),
        ("pod_pool_headroom", "CRITICAL", "eu-west-1a"),
    ]
    [pool] = [
        f for f in cluster_findings(pooled(0, 5), SETTINGS, LIMITS) if f.resource == "eu-west-1a"
    ]
    assert pool.message.startswith(
        "the pod address pool of eu-west-1a (subnet discovery: subnet-node 0, subnet-tagged 5 "
        "free) has 5 of 1270 addresses free (0.4%)"
    )
    assert pool.value == 5


def test_two_subnets_of_seven_are_not_fourteen_for_an_eni_of_ten() -> None:
    # 7 + 7 = 14 free together, but each new ENI lands whole in one subnet.
    findings = cluster_findings(pooled(node_free=7, tagged_free=7), SETTINGS, LIMITS)
    [pool] = [f for f in findings if f.kind == "pod_pool_headroom"]
    assert pool.severity == "CRITICAL"
    assert "takes 10 in one subnet" in pool.message


def test_a_subnet_tagged_zero_is_not_room() -> None:
    # subnet-tagged re-tagged kubernetes.io/role/cni=0: the audit leaves it out of the nodes'
    # candidates, so the zone has one candidate (its own subnet) and no pool to judge.
    cluster = pooled(node_free=0, tagged_free=899)
    cluster = replace(cluster, eni_subnets={"subnet-node": ["subnet-node"]})
    assert [f.kind for f in cluster_findings(cluster, SETTINGS, LIMITS)] == ["subnet_headroom"]


def test_without_discovery_the_same_subnets_are_judged_one_by_one() -> None:
    cluster = replace(pooled(node_free=0, tagged_free=899), subnet_discovery=False)
    [finding] = cluster_findings(cluster, SETTINGS, LIMITS)
    assert "a new m5.large node needs 10 at start-up" in finding.message
