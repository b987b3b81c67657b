"""From every target's snapshot to the one report: clusters, findings, coverage."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime

from ipaudit.analysis.cluster import analyze_cluster, analyze_target
from ipaudit.analysis.eni_kinds import odd_eni_notes
from ipaudit.analysis.findings import (
    coverage_findings,
    health_findings,
    sandbox_findings,
    target_findings,
)
from ipaudit.analysis.network_address_usage import usage_findings, with_usage
from ipaudit.analysis.network_mode import cni_version, subnet_discovery
from ipaudit.capacity.nau import with_peers
from ipaudit.gc_pause import collection_paused
from ipaudit.recommend import recommend
from ipaudit.report import (
    SEVERITY_RANK,
    ClusterReport,
    Coverage,
    Finding,
    Report,
    TargetReport,
)
from ipaudit.settings import Settings
from ipaudit.snapshot import Cluster, TargetSnapshot
from ipaudit.timestamps import parse_time
from ipaudit.words import plural


def with_recommendation(cluster: ClusterReport, peak_pods: int | None = None) -> ClusterReport:
    """The cluster with the recommendation the CNI model backs (sized to `peak_pods`, the
    busiest recent pod count, once history has one). The model covers the nodes aws-node
    manages on Linux in IPv4; other shapes are answered `not-modelled`."""
    recommendation = recommend(cluster, cluster.instance_types, peak_pods=peak_pods)
    return replace(cluster, recommendation=recommendation)


def cluster_report(cluster: Cluster) -> ClusterReport:
    return with_recommendation(analyze_cluster(cluster))


def coverage_notes(cluster: Cluster, notes: Iterable[str] = ()) -> list[str]:
    """What was audited only in part, and why: said once, in the cluster's coverage entry."""
    said = list(notes)
    for subnet in cluster.subnets:
        if subnet.ipv6_only:
            said.append(
                f"subnet {subnet.subnet_id} is IPv6-only: no IPv4 addresses to run out of, "
                "left out of the headroom table"
            )
    if subnet_discovery(cluster) and cni_version(cluster) is None:
        said.append(
            "aws-node's version is unknown (no image tag or add-on version to read): subnet "
            "discovery is taken as on, its default since v1.18"
        )
    if cluster.kube is not None and cluster.kube.karpenter_error:
        said.append(cluster.kube.karpenter_error)
    if cluster.kube is not None:
        said.extend(cluster.kube.read_notes)
    said.extend(odd_eni_notes(cluster.enis))
    for instance_type in cluster.unknown_instance_types:
        count = sum(i.instance_type == instance_type for i in cluster.instances)
        said.append(
            f"instance type {instance_type} is unknown to DescribeInstanceTypes: its "
            f"{plural(count, 'node')} {'has' if count == 1 else 'have'} no max pods and no "
            "start-up need"
        )
    return said


def target_report(target: TargetSnapshot, settings: Settings, now: datetime) -> TargetReport:
    """One account x region analysed: its clusters, their findings and its coverage entries."""
    result = TargetReport(target.account_id, target.region)
    if target.error is not None:
        result.coverage.append(
            Coverage(target.account_id, target.region, None, "error", target.error)
        )
        return result
    if not target.clusters and not target.cluster_errors:
        result.coverage.append(
            Coverage(target.account_id, target.region, None, "ok", notes=list(target.notes))
        )
    for name, error in target.cluster_errors:
        result.coverage.append(Coverage(target.account_id, target.region, name, "error", error))
    try:
        with collection_paused():
            reports = [with_recommendation(r) for r in analyze_target(target.clusters, now)]
            reports = with_usage(reports, target.vpcs)
            found = target_findings(
                [(r, c.instance_types) for r, c in zip(reports, target.clusters, strict=True)],
                settings,
            )
            for cluster, report in zip(target.clusters, reports, strict=True):
                if cluster.kube is not None:
                    found.extend(sandbox_findings(report, cluster.kube.sandbox_failures, now))
                found.extend(health_findings(report, cluster.health_issues))
    except Exception as error:
        # One target's odd data must not cost the other targets their report.
        problem = f"analysis failed ({type(error).__name__})"
        result.coverage.extend(
            Coverage(target.account_id, target.region, cluster.name, "error", problem)
            for cluster in target.clusters
        )
        return result
    result.findings.extend(found)
    for cluster, report in zip(target.clusters, reports, strict=True):
        result.clusters.append(report)
        result.coverage.append(
            Coverage(
                target.account_id,
                target.region,
                cluster.name,
                "error" if cluster.kube_error else "ok",
                cluster.kube_error,
                notes=coverage_notes(cluster, target.notes),
            )
        )
    return result


def combine_reports(
    targets: Iterable[TargetReport],
    *,
    run_id: str,
    generated_at: str,
    settings: Settings | None = None,
) -> Report:
    """Every target's part, in account and region order, into the one report (wherever the
    parts were analysed: here, or in the fan-out's batches). Peered VPCs' Network Address Usage
    is totalled here, where every target's VPCs are known; its findings need `settings`'
    thresholds (without them, none are raised)."""
    clusters: list[ClusterReport] = []
    findings: list[Finding] = []
    coverage: list[Coverage] = []
    for target in sorted(targets, key=lambda t: (t.account_id, t.region)):
        clusters.extend(target.clusters)
        findings.extend(target.findings)
        coverage.extend(target.coverage)
    clusters = with_peers(clusters)
    if settings is not None:
        findings.extend(usage_findings(clusters, settings))
    findings.extend(coverage_findings(coverage))
    findings.sort(key=lambda f: (-SEVERITY_RANK[f.severity], f.id))
    return Report(
        run_id=run_id,
        generated_at=generated_at,
        clusters=clusters,
        findings=findings,
        coverage=coverage,
    )


def build_report(
    targets: Iterable[TargetSnapshot], settings: Settings, *, run_id: str, generated_at: str
) -> Report:
    now = parse_time(generated_at)
    return combine_reports(
        (target_report(target, settings, now) for target in targets),
        run_id=run_id,
        generated_at=generated_at,
        settings=settings,
    )
