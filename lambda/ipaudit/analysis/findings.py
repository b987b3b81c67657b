"""Findings: what on-call should hear about, each with an id that is stable across runs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ipaudit.cni import startup_ips_held
from ipaudit.report import (
    ClusterReport,
    Coverage,
    Finding,
    Severity,
    SubnetReport,
    finding_id,
)
from ipaudit.settings import Settings
from ipaudit.snapshot import InstanceTypeLimits

# Warm addresses count as waste worth a warning when they are this share of what the CNI holds.
WASTE_SHARE = 0.2


def _finding(
    kind: str,
    severity: Severity,
    cluster: ClusterReport,
    resource: str,
    message: str,
    value: float | None,
) -> Finding:
    return Finding(
        id=finding_id(kind, cluster.account_id, cluster.region, cluster.name, resource),
        severity=severity,
        kind=kind,
        account_id=cluster.account_id,
        region=cluster.region,
        cluster=cluster.name,
        resource=resource,
        message=message,
        value=value,
    )


def node_startup_need(
    cluster: ClusterReport, limits: Mapping[str, InstanceTypeLimits]
) -> tuple[str, int] | None:
    """The instance type in use whose new node takes the most addresses, and how many."""
    needs = [
        (startup_ips_held(limits[t], cluster.cni), t)
        for t in sorted({n.instance_type for n in cluster.nodes})
        if t in limits
    ]
    if not needs:
        return None
    need, instance_type = max(needs)
    return instance_type, need


def subnet_findings(
    cluster: ClusterReport, settings: Settings, startup: tuple[str, int] | None
) -> list[Finding]:
    findings = []
    for subnet in cluster.subnets:
        severity, why = _subnet_severity(subnet, settings, startup)
        if severity is None:
            continue
        message = (
            f"subnet {subnet.subnet_id} ({subnet.cidr}, {subnet.az}) has {subnet.free} of "
            f"{subnet.usable} addresses free ({subnet.free_pct:g}%){why}"
        )
        findings.append(
            _finding("subnet_headroom", severity, cluster, subnet.subnet_id, message, subnet.free)
        )
    return findings


def _subnet_severity(
    subnet: SubnetReport, settings: Settings, startup: tuple[str, int] | None
) -> tuple[Severity | None, str]:
    if startup is not None and subnet.free < startup[1]:
        instance_type, need = startup
        return "CRITICAL", f"; a new {instance_type} node needs {need} at start-up"
    if subnet.free_pct < settings.crit_free_pct:
        return "CRITICAL", f", below {settings.crit_free_pct:g}%"
    if subnet.free_pct < settings.warn_free_pct:
        return "WARNING", f", below {settings.warn_free_pct:g}%"
    return None, ""


def leak_findings(cluster: ClusterReport) -> list[Finding]:
    if not cluster.leaked_enis:
        return []
    ips = sum(leak.ips for leak in cluster.leaked_enis)
    ids = ", ".join(leak.eni_id for leak in cluster.leaked_enis[:5])
    more = len(cluster.leaked_enis) - 5
    message = f"{len(cluster.leaked_enis)} leaked CNI ENI(s) hold {ips} addresses: {ids}" + (
        f" and {more} more" if more > 0 else ""
    )
    return [_finding("leaked_enis", "WARNING", cluster, cluster.vpc_id, message, ips)]


def waste_findings(cluster: ClusterReport, under_pressure: bool) -> list[Finding]:
    if not under_pressure or cluster.warm_ips is None or cluster.pods is None:
        return []
    held_for_pods = cluster.warm_ips + cluster.pods
    if held_for_pods <= 0 or cluster.warm_ips < WASTE_SHARE * held_for_pods:
        return []
    message = (
        f"nodes hold {held_for_pods} pod addresses for {cluster.pods} pods "
        f"({cluster.warm_ips} warm) while the cluster's subnets are short of addresses"
    )
    return [
        _finding("warm_pool_waste", "WARNING", cluster, cluster.name, message, cluster.warm_ips)
    ]


def cluster_findings(
    cluster: ClusterReport, settings: Settings, limits: Mapping[str, InstanceTypeLimits]
) -> list[Finding]:
    subnets = subnet_findings(cluster, settings, node_startup_need(cluster, limits))
    return [*subnets, *leak_findings(cluster), *waste_findings(cluster, bool(subnets))]


def coverage_findings(coverage: Iterable[Coverage]) -> list[Finding]:
    findings = []
    for gap in coverage:
        if gap.status != "error":
            continue
        scope = f"cluster {gap.cluster}" if gap.cluster else "account/region"
        findings.append(
            Finding(
                id=finding_id("coverage", gap.account_id, gap.region, gap.cluster, "audit"),
                severity="WARNING",
                kind="coverage",
                account_id=gap.account_id,
                region=gap.region,
                cluster=gap.cluster,
                resource=gap.cluster or f"{gap.account_id}/{gap.region}",
                message=f"{scope} in {gap.account_id}/{gap.region} not fully audited: {gap.error}",
            )
        )
    return findings
