"""Reports built by hand for the alert, notify, forecast, store and digest tests.

Findings follow the analysis' conventions (ids `kind:account:region:cluster:resource`, subnet
findings below 25% / 10% free, value = free addresses).
Import as `from support.reports import ...` (tests/ is on sys.path through its conftest).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from ipaudit.report import (
    ClusterReport,
    Coverage,
    Finding,
    LeakedEni,
    NodeReport,
    Recommendation,
    Report,
    SubnetReport,
)

ACCOUNT = "111111111111"
REGION = "eu-west-1"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def subnet(subnet_id: str = "subnet-a", free: int = 500, usable: int = 1019) -> SubnetReport:
    return SubnetReport(
        subnet_id=subnet_id,
        cidr="10.0.0.0/22",
        az="eu-west-1a",
        usable=usable,
        free=free,
        free_pct=round(100 * free / usable, 1),
        free_prefix_blocks=free // 16,
    )


def cluster(
    name: str = "prod",
    subnets: Sequence[SubnetReport] = (),
    *,
    account_id: str = ACCOUNT,
    region: str = REGION,
    leaked: Sequence[LeakedEni] = (),
    with_recommendation: bool = True,
) -> ClusterReport:
    subnets = list(subnets) or [subnet()]
    nodes = [
        NodeReport(
            instance_id=f"i-{name}-{n}",
            instance_type="m5.8xlarge",
            subnet_id=subnets[0].subnet_id,
            enis=5,
            ips_held=150,
            secondary_ips=145,
            pods=10,
            warm_ips=135,
        )
        for n in range(3)
    ]
    recommendation = Recommendation(
        settings={"WARM_IP_TARGET": "2", "MINIMUM_IP_TARGET": "12"},
        projected_ips_held=60,
        ips_returned=390,
        command="kubectl -n kube-system set env daemonset/aws-node WARM_IP_TARGET=2 "
        "MINIMUM_IP_TARGET=12",
        rationale="fewer warm addresses",
    )
    return ClusterReport(
        account_id=account_id,
        region=region,
        name=name,
        vpc_id="vpc-1",
        cni={},
        subnets=subnets,
        nodes=nodes,
        leaked_enis=list(leaked),
        ips_held=450,
        pods=30,
        warm_ips=405,
        recommendation=recommendation if with_recommendation else None,
    )


def report(
    clusters: Sequence[ClusterReport],
    *,
    run_id: str = "run-1",
    at: datetime = T0,
    coverage: Sequence[Coverage] | None = None,
    extra_findings: Sequence[Finding] = (),
) -> Report:
    """A report whose findings follow from the clusters' subnets and leaks."""
    findings = [f for c in clusters for f in cluster_findings(c)]
    if coverage is None:
        coverage = [Coverage(c.account_id, c.region, c.name, "ok") for c in clusters]
    return Report(
        run_id=run_id,
        generated_at=at.isoformat().replace("+00:00", "Z"),
        clusters=list(clusters),
        findings=[*findings, *extra_findings],
        coverage=list(coverage),
    )


def cluster_findings(c: ClusterReport) -> list[Finding]:
    findings = []
    for s in c.subnets:
        severity = "CRITICAL" if s.free_pct < 10 else "WARNING" if s.free_pct < 25 else None
        if severity is not None:
            findings.append(
                Finding(
                    id=f"subnet_headroom:{c.account_id}:{c.region}:{c.name}:{s.subnet_id}",
                    severity=severity,
                    kind="subnet_headroom",
                    account_id=c.account_id,
                    region=c.region,
                    cluster=c.name,
                    resource=s.subnet_id,
                    message=f"subnet {s.subnet_id} has {s.free} of {s.usable} addresses free",
                    value=s.free,
                )
            )
    if c.leaked_enis:
        ips = sum(e.ips for e in c.leaked_enis)
        findings.append(
            Finding(
                id=f"leaked_enis:{c.account_id}:{c.region}:{c.name}:{c.vpc_id}",
                severity="WARNING",
                kind="leaked_enis",
                account_id=c.account_id,
                region=c.region,
                cluster=c.name,
                resource=c.vpc_id,
                message=f"{len(c.leaked_enis)} leaked CNI ENIs hold {ips} addresses",
                value=ips,
            )
        )
    return findings
