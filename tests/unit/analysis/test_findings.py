"""Findings: what on-call hears about, with severities and ids that stay stable across runs."""

from dataclasses import replace
from datetime import UTC, datetime

from ipaudit.analysis.findings import (
    cluster_findings,
    coverage_findings,
    health_findings,
    sandbox_findings,
    target_findings,
)
from ipaudit.report import ClusterReport, Coverage, LeakedEni, NodeReport, SubnetReport
from ipaudit.settings import Settings
from ipaudit.snapshot import HealthIssue, InstanceTypeLimits, SandboxFailure

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


def with_roles(report: SubnetReport, *roles: str, clusters: tuple[str, ...] = ()) -> SubnetReport:
    return replace(report, roles=list(roles), clusters=list(clusters))


def test_custom_networking_charges_one_address_to_the_node_subnet_and_the_rest_to_pods() -> None:
    # A new m5.large under custom networking takes 1 (its primary) + 10 (one pod ENI).
    custom = {"AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG": "true"}
    nodes = with_roles(subnet(free=5, usable=11, subnet_id="subnet-n"), "nodes")
    pods = with_roles(subnet(free=9, usable=1019, subnet_id="subnet-p"), "pods")
    report = replace(cluster(nodes, pods), cni=custom)
    [finding] = cluster_findings(report, SETTINGS, LIMITS)
    assert finding.resource == "subnet-p"
    assert "a new m5.large node needs 10 at start-up" in finding.message


def test_a_control_plane_only_subnet_needs_what_eks_needs() -> None:
    found = kinds(
        cluster(
            with_roles(subnet(free=5, usable=11, subnet_id="subnet-tight"), "control-plane"),
            with_roles(subnet(free=9, usable=11, subnet_id="subnet-28"), "control-plane"),
            with_roles(subnet(free=12, usable=27, subnet_id="subnet-27"), "control-plane"),
        )
    )
    assert found == [
        ("subnet_headroom", "CRITICAL", "subnet-tight"),  # fewer than 6
        ("subnet_headroom", "WARNING", "subnet-27"),  # fewer than 16 where 16 fit
    ]


def test_no_start_up_need_is_claimed_where_aws_node_does_not_run() -> None:
    calico = replace(cluster(subnet(free=9, usable=27)), cni=None, network_mode="other-cni")
    assert cluster_findings(calico, SETTINGS, LIMITS) == []


def test_a_shared_subnet_is_one_finding_with_no_single_cluster_and_the_worst_demand() -> None:
    shared = with_roles(subnet(free=9, usable=27), "nodes", clusters=("blue", "green"))
    blue = replace(cluster(shared), name="blue")
    green = replace(cluster(shared), name="green", nodes=[])  # no nodes: no start-up need
    [finding] = target_findings([(blue, LIMITS), (green, LIMITS)], SETTINGS)
    assert finding.id == "subnet_headroom:111111111111:eu-west-1:-:subnet-a"
    assert finding.cluster is None and finding.severity == "CRITICAL"
    assert "clusters drawing on it: blue, green" in finding.message


def test_pods_that_got_no_address_in_the_last_hour_are_critical() -> None:
    now = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    failures = [
        SandboxFailure("shop", "a", "node-1", "2026-01-05T09:30:00Z", 3, "failed to assign"),
        SandboxFailure("shop", "a", "node-1", "2026-01-05T09:40:00Z", 1, "failed to assign"),
        SandboxFailure("shop", "b", "node-2", "2026-01-05T07:00:00Z", 1, "failed to assign"),
    ]
    [finding] = sandbox_findings(cluster(subnet(500)), failures, now)
    assert (finding.kind, finding.severity, finding.value) == (
        "pods_without_addresses",
        "CRITICAL",
        1,
    )
    assert "on node node-1: shop/a" in finding.message


def test_eks_health_issues_are_findings_insufficient_addresses_critical() -> None:
    issues = [
        HealthIssue("InsufficientFreeAddresses", "too few free addresses", ("subnet-a",)),
        HealthIssue("Ec2SecurityGroupNotFound", "security group gone"),
    ]
    found = health_findings(cluster(subnet(500)), issues)
    assert [(f.severity, f.resource) for f in found] == [
        ("CRITICAL", "InsufficientFreeAddresses"),
        ("WARNING", "Ec2SecurityGroupNotFound"),
    ]
