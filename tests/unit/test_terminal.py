"""The human report: what an engineer reads on the terminal."""

from dataclasses import replace

from ipaudit.report import (
    ClusterReport,
    Coverage,
    Finding,
    LeakedEni,
    NodeReport,
    Recommendation,
    Report,
    SubnetReport,
    no_addresses,
)
from ipaudit.terminal import free_bar, render_report


def test_the_bar_fills_with_the_share_still_free_and_a_sliver_never_looks_empty() -> None:
    assert free_bar(0, 1019, width=10) == "[----------]"
    assert free_bar(1019, 1019, width=10) == "[##########]"
    assert free_bar(510, 1019, width=10) == "[#####-----]"
    assert free_bar(1, 1019, width=10) == "[#---------]"


def report() -> Report:
    nodes = [
        NodeReport("i-busy", "m5.8xlarge", "subnet-a", 5, 150, 145, 110, 35),
        NodeReport("i-churned", "m5.8xlarge", "subnet-a", 5, 150, 145, 10, 135),
    ]
    cluster = ClusterReport(
        account_id="111111111111",
        region="eu-west-1",
        name="shop-prod",
        vpc_id="vpc-1",
        cni={},
        subnets=[SubnetReport("subnet-a", "10.0.0.0/22", "eu-west-1a", 1019, 0, 0.0, 0)],
        nodes=nodes,
        leaked_enis=[LeakedEni("eni-leak", "subnet-a", 10)],
        ips_held=300,
        pods=120,
        warm_ips=170,
        recommendation=Recommendation(
            settings={"WARM_IP_TARGET": "5", "MINIMUM_IP_TARGET": "30"},
            projected_ips_held=200,
            ips_returned=100,
            command="kubectl -n kube-system set env daemonset/aws-node WARM_IP_TARGET=5",
            rationale="fewer warm addresses, more EC2 calls on bursts",
            current_ips_held=300,
        ),
    )
    finding = Finding(
        "id",
        "CRITICAL",
        "subnet_headroom",
        "111111111111",
        "eu-west-1",
        "shop-prod",
        "subnet-a",
        "subnet subnet-a has 0 of 1019 addresses free",
    )
    gap = Coverage("222222222222", "eu-west-1", None, "error", "cannot assume role: AccessDenied")
    return Report("run-1", "2026-11-26T00:00:00Z", [cluster], [finding], [gap])


def test_the_report_shows_subnets_worst_nodes_leaks_recommendation_findings_and_gaps() -> None:
    text = render_report(report())
    assert "Cluster shop-prod" in text
    assert "2 nodes hold 300 addresses for 120 pods (170 warm)" in text
    assert "[--------------------]" in text  # subnet-a: nothing free
    # The node wasting the most comes first.
    assert text.index("i-churned") < text.index("i-busy")
    assert "eni-leak" in text
    assert "MINIMUM_IP_TARGET=30 WARM_IP_TARGET=5" in text
    assert "100 returned" in text and "$ kubectl -n kube-system set env" in text
    assert "CRITICAL" in text and "subnet subnet-a has 0 of 1019 addresses free" in text
    assert "222222222222/eu-west-1/*: cannot assume role: AccessDenied" in text


def test_each_cluster_says_its_network_mode_and_each_subnet_who_holds_its_addresses() -> None:
    base = report()
    [cluster] = base.clusters
    held = {**no_addresses(), "node_primary": 10, "pods": 120, "warm": 879, "leaked": 10}
    shared = replace(
        cluster.subnets[0], roles=["nodes", "pods"], clusters=["shop-prod", "batch"], addresses=held
    )
    calico = replace(cluster, cni=None, network_mode="other-cni", subnets=[shared])
    gap = replace(base.coverage[0], notes=["subnet subnet-v6 is IPv6-only: no IPv4 addresses"])
    text = render_report(replace(base, clusters=[calico], coverage=[gap]))
    assert (
        "network: another CNI (no aws-node): addresses attributed, warm pool not modelled" in text
    )
    assert "aws-node: not running (or not readable)" in text
    assert (
        "subnet-a  1019 used = 10 node primaries + 120 pods + 879 warm + 10 leaked  "
        "(nodes,pods; shared with shop-prod, batch)"
    ) in text
    assert "note 222222222222/eu-west-1/*: subnet subnet-v6 is IPv6-only" in text
