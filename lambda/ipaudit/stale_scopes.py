"""What `serve-metrics` serves for the scopes a cycle could not audit: the last good values,
marked stale, instead of nothing.

A scope that failed (EC2 refused, a cluster API unreachable, the deadline passed) reports
nothing about what it holds; serving that nothing would drop the scope's series and resolve its
alerts while its subnets are still exhausted. So the last values are kept until the scope is
audited again, and `ipaudit_scope_stale_since_timestamp_seconds` says since when.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ipaudit.finding_kinds import KINDS
from ipaudit.report import Finding, Report

# account, region, cluster (None: the whole account x region)
Scope = tuple[str, str, str | None]
COVERAGE_KIND = "coverage"  # about the audit itself: the current cycle's are the truth


@dataclass(frozen=True)
class Served:
    report: Report  # the cycle's report with the failed scopes' last good values in it
    stale_since: dict[Scope, str] = field(default_factory=dict)  # generated_at of those values


def carry_over(previous: Served | None, current: Report) -> Served:
    """`current` plus, for each scope it failed, what `previous` served for that scope: an
    account x region's clusters and findings; a cluster absent from `current` (its VPC not
    read), whole; a present cluster's findings that need its Kubernetes API (what EC2 still
    told is current). Repeated failures keep the first good values."""
    failed = {(c.account_id, c.region, c.cluster) for c in current.coverage if c.status == "error"}
    if previous is None or not failed:
        return Served(current)
    before = previous.report
    regions = {(account, region) for account, region, cluster in failed if cluster is None}
    have_clusters = {c.key for c in current.clusters}
    have_findings = {f.id for f in current.findings}
    # A failed cluster the report does not have at all (its VPC could not be read): nothing of
    # it is current, so it is kept whole, like an account x region that failed.
    gone = {
        (account, region, cluster)
        for account, region, cluster in failed
        if cluster is not None and f"{account}/{region}/{cluster}" not in have_clusters
    }
    clusters = [
        c
        for c in before.clusters
        if ((c.account_id, c.region) in regions or (c.account_id, c.region, c.name) in gone)
        and c.key not in have_clusters
    ]

    def kept(f: Finding) -> bool:
        if f.id in have_findings or f.kind == COVERAGE_KIND:
            return False
        if (f.account_id, f.region) in regions or (f.account_id, f.region, f.cluster) in gone:
            return True
        kind = KINDS.get(f.kind)
        return (f.account_id, f.region, f.cluster) in failed and bool(
            kind and kind.needs_kubernetes
        )

    findings = [f for f in before.findings if kept(f)]
    touched: set[Scope] = {
        (c.account_id, c.region, c.name if (c.account_id, c.region, c.name) in gone else None)
        for c in clusters
    }
    for f in findings:
        whole = (f.account_id, f.region) in regions
        touched.add((f.account_id, f.region, None if whole else f.cluster))
    stale_since = {
        scope: previous.stale_since.get(scope, before.generated_at)
        for scope in sorted(touched, key=str)
    }
    merged = replace(
        current,
        clusters=[*current.clusters, *clusters],
        findings=[*current.findings, *findings],
    )
    return Served(merged, stale_since)
