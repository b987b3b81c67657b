"""From every target's snapshot to the one report: clusters, findings, coverage."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from ipaudit.analysis.cluster import analyze_cluster
from ipaudit.analysis.findings import cluster_findings, coverage_findings
from ipaudit.recommend import recommend
from ipaudit.report import SEVERITY_RANK, ClusterReport, Coverage, Finding, Report
from ipaudit.settings import Settings
from ipaudit.snapshot import Cluster, TargetSnapshot


def with_recommendation(cluster: ClusterReport, peak_pods: int | None = None) -> ClusterReport:
    """The cluster with the recommendation the CNI model backs (sized to `peak_pods`, the
    busiest recent pod count, once history has one)."""
    recommendation = recommend(cluster, cluster.instance_types, peak_pods=peak_pods)
    return replace(cluster, recommendation=recommendation)


def cluster_report(cluster: Cluster) -> ClusterReport:
    return with_recommendation(analyze_cluster(cluster))


def build_report(
    targets: Iterable[TargetSnapshot], settings: Settings, *, run_id: str, generated_at: str
) -> Report:
    clusters: list[ClusterReport] = []
    findings: list[Finding] = []
    coverage: list[Coverage] = []
    for target in sorted(targets, key=lambda t: (t.account_id, t.region)):
        if target.error is not None:
            coverage.append(Coverage(target.account_id, target.region, None, "error", target.error))
            continue
        if not target.clusters:
            coverage.append(Coverage(target.account_id, target.region, None, "ok"))
        for cluster in target.clusters:
            report = cluster_report(cluster)
            clusters.append(report)
            findings.extend(cluster_findings(report, settings, cluster.instance_types))
            coverage.append(
                Coverage(
                    target.account_id,
                    target.region,
                    cluster.name,
                    "error" if cluster.kube_error else "ok",
                    cluster.kube_error,
                )
            )
    findings.extend(coverage_findings(coverage))
    findings.sort(key=lambda f: (-SEVERITY_RANK[f.severity], f.id))
    return Report(
        run_id=run_id,
        generated_at=generated_at,
        clusters=clusters,
        findings=findings,
        coverage=coverage,
    )
