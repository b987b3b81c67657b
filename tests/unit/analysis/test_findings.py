"""Findings: what on-call hears about, with severities and ids that stay stable across runs."""

from dataclasses import replace

from ipaudit.analysis.findings import cluster_findings, coverage_findings
from ipaudit.report import ClusterReport, Coverage, LeakedEni, NodeReport, SubnetReport
from ipaudit.settings import Settings
from ipaudit.snapshot import InstanceTypeLimits

SETTINGS = Settings()  # warn below 25%, critical below 10%
M5_LARGE = InstanceTypeLimits("m5.large", max_enis=3, ipv4_per_eni=10, vcpus=2, hypervisor="nitro")
LIMITS = {"m5.large": M5_LARGE}


def subnet(free: int, usable: int = 1019, subnet_id: str = "subnet-a") -> SubnetReport:
    return SubnetReport(
        subnet_id=subnet_id,
        cidr="10.0.0.0/22",
        az="eu-west-1a",
        usable=usable,
        free=free,
        free_pct=round(100 * free / usable, 1),
        free_prefix_blocks=0,
    )


def cluster(*subnets: SubnetReport, pods: int | None = 10, warm: int | None = 2) -> ClusterReport:
    node = NodeReport("i-1", "m5.large", "subnet-a", 2, 20, 18, pods, warm)
    return ClusterReport(
        account_id="111111111111",
        region="eu-west-1",
        name="prod",
        vpc_id="vpc-1",
        cni={},
        subnets=list(subnets),
        nodes=[node],
        leaked_enis=[],
        ips_held=20,
        pods=pods,
        warm_ips=warm,
    )


def kinds(report: ClusterReport) -> list[tuple[str, str, str]]:
    return [(f.kind, f.severity, f.resource) for f in cluster_findings(report, SETTINGS, LIMITS)]


def test_healthy_subnets_raise_nothing() -> None:
    assert kinds(cluster(subnet(free=500))) == []


def test_below_the_warning_threshold_is_a_warning_and_below_critical_is_critical() -> None:
    found = kinds(cluster(subnet(200, subnet_id="subnet-a"), subnet(50, subnet_id="subnet-b")))
    assert found == [
        ("subnet_headroom", "WARNING", "subnet-a"),
        ("subnet_headroom", "CRITICAL", "subnet-b"),
    ]


def test_a_subnet_that_cannot_fit_one_more_node_is_critical_whatever_its_percentage() -> None:
    # A new m5.large under the defaults fills its primary ENI: 10 addresses. A /27 with 9 free
    # is 33% free, above both thresholds, and still cannot take one more node.
    [finding] = cluster_findings(cluster(subnet(free=9, usable=27)), SETTINGS, LIMITS)
    assert finding.severity == "CRITICAL"
    assert "a new m5.large node needs 10 at start-up" in finding.message


def test_the_same_problem_keeps_its_id_when_it_gets_worse() -> None:
    [warning] = cluster_findings(cluster(subnet(200)), SETTINGS, LIMITS)
    [critical] = cluster_findings(cluster(subnet(20)), SETTINGS, LIMITS)
    assert warning.id == critical.id == "subnet_headroom:111111111111:eu-west-1:prod:subnet-a"
    assert (warning.value, critical.value) == (200, 20)


def test_leaked_enis_are_one_warning_per_cluster_with_the_addresses_they_hold() -> None:
    leaks = [LeakedEni("eni-1", "subnet-a", 10), LeakedEni("eni-2", "subnet-a", 4)]
    report = replace(cluster(subnet(500)), leaked_enis=leaks)
    [finding] = cluster_findings(report, SETTINGS, LIMITS)
    assert (finding.kind, finding.severity, finding.value) == ("leaked_enis", "WARNING", 14)
    assert "eni-1" in finding.message and "eni-2" in finding.message


def test_warm_pool_waste_is_flagged_only_when_the_subnets_are_under_pressure() -> None:
    wasteful = {"pods": 10, "warm": 130}
    assert "warm_pool_waste" not in [k for k, _, _ in kinds(cluster(subnet(500), **wasteful))]
    assert ("warm_pool_waste", "WARNING", "prod") in kinds(cluster(subnet(200), **wasteful))
    # A tight pool under pressure is not waste, and unknown pods prove nothing.
    assert "warm_pool_waste" not in [k for k, _, _ in kinds(cluster(subnet(200), warm=1))]
    unknown = cluster(subnet(200), pods=None, warm=None)
    assert "warm_pool_waste" not in [k for k, _, _ in kinds(unknown)]


def test_every_coverage_gap_is_a_warning_naming_its_scope() -> None:
    findings = coverage_findings(
        [
            Coverage("111111111111", "eu-west-1", None, "ok"),
            Coverage(
                "222222222222", "eu-west-1", None, "error", "cannot assume role: AccessDenied"
            ),
            Coverage("111111111111", "eu-west-1", "dev", "error", "Kubernetes API unreachable"),
        ]
    )
    assert [(f.severity, f.account_id, f.cluster) for f in findings] == [
        ("WARNING", "222222222222", None),
        ("WARNING", "111111111111", "dev"),
    ]
    assert "AccessDenied" in findings[0].message
