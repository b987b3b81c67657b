"""The human report: what an engineer reads on the terminal."""

from dataclasses import replace

from ipaudit.render.text import (
    command_lines,
    free_bar,
    pod_pool_lines,
    render_report,
    same_precision,
)
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


def flowing(text: str) -> str:
    """The text with its wrapping undone."""
    return " ".join(text.split())


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
    text = render_report(report(), width=120)
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
        "network: another CNI (no aws-node): addresses attributed, warm pool not modelled"
        in flowing(text)
    )
    assert "aws-node: not running (or not readable)" in text
    assert (
        "subnet-a 1019 used = 10 node primaries + 120 pods + 879 warm + 10 leaked "
        "(nodes,pods; shared with batch)"
    ) in flowing(text)
    assert "note 222222222222/eu-west-1/*: subnet subnet-v6 is IPv6-only" in flowing(text)


def healthy(report: Report) -> ClusterReport:
    [cluster] = report.clusters
    roomy = replace(cluster.subnets[0], subnet_id="subnet-h", free=900, free_pct=88.3)
    return replace(cluster, name="a-healthy", subnets=[roomy], recommendation=None)


def test_the_worst_cluster_comes_first_and_its_findings_lead() -> None:
    base = report()
    shared_warning = replace(
        base.findings[0], severity="WARNING", cluster=None, resource="subnet-h", id="w"
    )
    text = render_report(
        replace(
            base,
            clusters=[healthy(base), *base.clusters],
            findings=[shared_warning, *base.findings],
        )
    )
    assert text.index("Cluster shop-prod") < text.index("Cluster a-healthy")
    findings = text[text.index("Findings (2):") :]
    assert findings.index("CRITICAL") < findings.index("WARNING")


def test_every_line_fits_the_width_and_tables_drop_what_does_not_fit() -> None:
    base = report()
    long_rationale = replace(
        base.clusters[0].recommendation,
        rationale="Simulated on every node " * 12,
        command="aws eks update-addon --cluster-name shop-prod --addon-name vpc-cni "
        '--configuration-values \'{"env": {"WARM_IP_TARGET": "4"}}\' --resolve-conflicts PRESERVE',
    )
    [cluster] = base.clusters
    real_id = replace(cluster.subnets[0], subnet_id="subnet-0bf0e23768a882f14")
    wide = replace(
        base, clusters=[replace(cluster, recommendation=long_rationale, subnets=[real_id])]
    )
    narrow = render_report(wide, width=80)
    assert [line for line in narrow.splitlines() if len(line) > 80] == []
    assert "[--------------------]" not in narrow and "usable" not in narrow
    roomy = render_report(wide, width=140)
    assert "[--------------------]" in roomy and "usable" in roomy


def test_a_long_command_breaks_with_continuations_outside_quotes() -> None:
    command = "aws eks update-addon --cluster-name prod --configuration-values '{\"a\": 1}' --x y"
    lines = command_lines(command, 40, "    ")
    assert all(line.endswith(" \\") for line in lines[:-1])
    assert "'{\"a\": 1}'" in " ".join(lines)  # the quoted JSON stays whole
    # What the shell reads back is the same command.
    assert " ".join(line.removesuffix(" \\").strip() for line in lines) == f"$ {command}"


def test_one_precision_for_every_percentage_and_plurals_for_one() -> None:
    assert same_precision("0 of 1019 free (0%), below 25%; 94.8% free") == (
        "0 of 1019 free (0.0%), below 25.0%; 94.8% free"
    )
    base = report()
    [cluster] = base.clusters
    one = replace(cluster, nodes=cluster.nodes[:1], ips_held=150, pods=110, warm_ips=35)
    held = {**no_addresses(), "node_primary": 1, "pods": 110, "warm": 35}
    one = replace(one, subnets=[replace(one.subnets[0], addresses=held)])
    text = flowing(render_report(replace(base, clusters=[one])))
    assert "1 node holds 150 addresses for 110 pods (35 warm)" in text
    assert "= 1 node primary + 110 pods + 35 warm" in text
    assert "1 leaked CNI ENI:" in text and "0.0%" in text


def test_under_subnet_discovery_each_zones_pool_is_one_line_with_its_free_addresses() -> None:
    node = NodeReport(
        "i-1",
        "m5.large",
        "subnet-node",
        3,
        30,
        27,
        27,
        0,
        pool_subnet_ids=["subnet-tagged", "subnet-node"],
    )
    subnets = [
        SubnetReport("subnet-node", "10.3.0.0/24", "eu-west-1a", 251, 0, 0.0, 0),
        SubnetReport("subnet-tagged", "100.64.0.0/22", "eu-west-1a", 1019, 899, 88.2, 55),
    ]
    cluster = ClusterReport(
        "111111111111",
        "eu-west-1",
        "search",
        "vpc-1",
        {},
        subnets,
        [node],
        [],
        30,
        27,
        0,
        cni_version="v1.19.2",
        subnet_discovery=True,
    )
    assert pod_pool_lines(cluster) == [
        "subnet discovery: on (aws-node v1.19.2): a node's new ENIs go to the valid subnet of "
        "its zone with the most free addresses",
        "pods in eu-west-1a draw on subnet-tagged (899 free), subnet-node (0 free): 899 free "
        "in all",
    ]


def test_fargate_pods_are_said_apart_from_the_pods_on_the_nodes() -> None:
    base = report()
    [cluster] = base.clusters
    # 120 pods counted for the cluster, 3 of them on Fargate: the nodes hold 300 for 117.
    fargate = replace(cluster, fargate_pods=3)
    text = flowing(render_report(replace(base, clusters=[fargate])))
    assert "2 nodes hold 300 addresses for 117 pods (170 warm); 3 pods more on Fargate" in text
