"""Findings: what on-call should hear about, each with an id that is stable across runs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from ipaudit.analysis.ceilings import KIND as CEILING_KIND
from ipaudit.analysis.ceilings import startup_env
from ipaudit.analysis.pool_subnets import discovery_pools
from ipaudit.cni import startup_ips_held
from ipaudit.report import (
    SEVERITY_RANK,
    Ceiling,
    ClusterReport,
    Coverage,
    Finding,
    Severity,
    SubnetReport,
    finding_id,
)
from ipaudit.settings import Settings
from ipaudit.snapshot import HealthIssue, InstanceTypeLimits, SandboxFailure

# Warm addresses count as waste worth a warning when they are this share of what the CNI holds.
WASTE_SHARE = 0.2
AWS_NODE_MODES = ("vpc-cni", "vpc-cni-ipv6")
CUSTOM_NETWORKING = "AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG"
# EKS's own need in a control-plane subnet (EKS user guide, "VPC and subnet requirements").
EKS_REQUIRED_FREE = 6
EKS_RECOMMENDED_FREE = 16
# Pods whose sandbox failed for want of an address this recently are news.
SANDBOX_WINDOW = timedelta(hours=1)
# EKS cluster health issue codes that mean pods or nodes cannot get addresses now.
CRITICAL_HEALTH_CODES = frozenset({"InsufficientFreeAddresses"})


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
    """The aws-node instance type in use whose new node takes the most addresses, and how many.

    None when aws-node does not hand out the cluster's addresses or its settings are unknown:
    nothing is modelled, so nothing is claimed."""
    env = startup_env(cluster)
    if env is None:
        return None
    needs = [
        (startup_ips_held(limits[t], env), t)
        for t in sorted({n.instance_type for n in cluster.nodes if n.aws_node})
        if t in limits
    ]
    if not needs:
        return None
    need, instance_type = max(needs)
    return instance_type, need


def subnet_demand(
    cluster: ClusterReport, subnet: SubnetReport, startup: tuple[str, int] | None
) -> tuple[str, int] | None:
    """What a new node takes from this subnet at start-up, charged where it lands: all of it
    in its own subnet when its pods draw there too; else 1 (its primary) there and the rest
    where its pods draw: its zone's ENIConfig subnet (custom networking), or the one subnet
    discovery leaves its zone. A zone whose pods draw on several subnets is judged as one pool
    (`pool_findings`), not subnet by subnet."""
    if startup is None:
        return None
    instance_type, need = startup
    roles = set(subnet.roles)
    if not roles:  # a subnet no role is known for (an older report): as before, all of it
        return startup
    custom = (cluster.cni or {}).get(CUSTOM_NETWORKING, "").lower() in ("1", "t", "true")
    pooled = discovery_pools(cluster).get(subnet.az, [])
    zone_pods = [s.subnet_id for s in cluster.subnets if s.az == subnet.az and "pods" in s.roles]
    elsewhere = custom or (cluster.subnet_discovery and zone_pods != [subnet.subnet_id])
    charged = 0
    if "nodes" in roles:
        charged += 1 if elsewhere else need
    if "pods" in roles and elsewhere and not pooled:
        charged += need - 1
    return (instance_type, charged) if charged > 0 else None


def pool_findings(
    cluster: ClusterReport, settings: Settings, startup: tuple[str, int] | None
) -> list[Finding]:
    """Under subnet discovery, a zone whose pods draw on several subnets is one pool: it is
    short only when all of them together are (its subnets' own findings say what else each
    blocks: new nodes, where they launch)."""
    findings = []
    for zone, subnets in sorted(discovery_pools(cluster).items()):
        free = sum(s.free for s in subnets)
        usable = sum(s.usable for s in subnets)
        pct = round(100.0 * free / usable, 1) if usable else 0.0
        each = ", ".join(f"{s.subnet_id} {s.free}" for s in subnets)
        severity: Severity | None = None
        why = ""
        if startup is not None and free < startup[1] - 1:
            severity = "CRITICAL"
            why = (
                f"; a new {startup[0]} node's pods need {startup[1] - 1} at start-up, and pods "
                f"on full nodes get none once it is empty"
            )
        elif pct < settings.crit_free_pct:
            severity, why = "CRITICAL", f", below {settings.crit_free_pct:g}%"
        elif pct < settings.warn_free_pct:
            severity, why = "WARNING", f", below {settings.warn_free_pct:g}%"
        if severity is None:
            continue
        message = (
            f"the pod address pool of {zone} (subnet discovery: {each} free) has {free} of "
            f"{usable} addresses free ({pct:g}%){why}"
        )
        findings.append(_finding("pod_pool_headroom", severity, cluster, zone, message, free))
    return findings


def control_plane_only(subnet: SubnetReport) -> bool:
    return "control-plane" in subnet.roles and not {"nodes", "pods"} & set(subnet.roles)


def subnet_findings(
    cluster: ClusterReport, settings: Settings, startup: tuple[str, int] | None
) -> list[Finding]:
    return shared_subnet_findings([(cluster, startup)], settings)


def shared_subnet_findings(
    clusters: Sequence[tuple[ClusterReport, tuple[str, int] | None]], settings: Settings
) -> list[Finding]:
    """Headroom findings, one per subnet however many clusters draw on it (the worst demand
    decides), naming every cluster. A subnet one cluster uses keeps that cluster's id."""
    by_subnet: dict[str, list[tuple[ClusterReport, SubnetReport, tuple[str, int] | None]]] = {}
    for cluster, startup in clusters:
        pools = discovery_pools(cluster)
        for subnet in cluster.subnets:
            if "nodes" not in subnet.roles and subnet in pools.get(subnet.az, ()):
                continue  # a pod subnet of a pool: the pool's finding judges it
            demand = subnet_demand(cluster, subnet, startup)
            by_subnet.setdefault(subnet.subnet_id, []).append((cluster, subnet, demand))
    findings = []
    for subnet_id, users in by_subnet.items():
        judged = [(_subnet_severity(s, settings, d), c, s) for c, s, d in users]
        (severity, why), owner, subnet = max(
            judged, key=lambda j: (SEVERITY_RANK.get(j[0][0] or "", -1), j[0][1])
        )
        if severity is None:
            continue
        names = sorted({c.name for c, _, _ in users} | set(subnet.clusters))
        message = (
            f"subnet {subnet.subnet_id} ({subnet.cidr}, {subnet.az}) has {subnet.free} of "
            f"{subnet.usable} addresses free ({subnet.free_pct:g}%){why}"
        )
        if len(names) > 1:
            message += f"; clusters drawing on it: {', '.join(names)}"
        findings.append(
            subnet_finding(
                "subnet_headroom", severity, owner, subnet_id, message, subnet.free, names
            )
        )
    return findings


def subnet_finding(
    kind: str,
    severity: Severity,
    cluster: ClusterReport,
    subnet_id: str,
    message: str,
    value: float | None,
    clusters: Sequence[str],
) -> Finding:
    """A finding about a subnet: the cluster's when only it draws on the subnet (today's id),
    no single cluster's when several do."""
    shared = len(set(clusters)) > 1
    name = None if shared else cluster.name
    return Finding(
        id=finding_id(kind, cluster.account_id, cluster.region, name, subnet_id),
        severity=severity,
        kind=kind,
        account_id=cluster.account_id,
        region=cluster.region,
        cluster=name,
        resource=subnet_id,
        message=message,
        value=value,
    )


def _subnet_severity(
    subnet: SubnetReport, settings: Settings, startup: tuple[str, int] | None
) -> tuple[Severity | None, str]:
    if control_plane_only(subnet):
        # No node lands here: EKS itself needs room for its control-plane ENIs.
        if subnet.free < EKS_REQUIRED_FREE:
            return "CRITICAL", f"; EKS needs at least {EKS_REQUIRED_FREE} for its control plane"
        # A subnet smaller than EKS's recommendation (a /28) can never meet it: no warning.
        if subnet.free < EKS_RECOMMENDED_FREE <= subnet.usable:
            return "WARNING", f"; EKS recommends at least {EKS_RECOMMENDED_FREE} free"
        return None, ""
    if startup is not None and subnet.free < startup[1]:
        instance_type, need = startup
        if need == 1:
            return "CRITICAL", (
                f"; new {instance_type} nodes cannot launch in it (each takes its primary "
                f"address here; their pods draw on other subnets)"
            )
        return "CRITICAL", f"; a new {instance_type} node needs {need} at start-up"
    if startup is not None and startup[1] == 1 and subnet.free_pct < settings.warn_free_pct:
        # Only new nodes' primaries come from here: nothing is blocked while any is free.
        return "WARNING", (
            f", below {settings.warn_free_pct:g}%: {subnet.free} more nodes can launch in it "
            f"(their pods draw on other subnets)"
        )
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
    count = len(cluster.leaked_enis)
    enis = f"{count} leaked CNI {_noun(count, 'ENI holds', 'ENIs hold')}"
    message = f"{enis} {ips} addresses: {ids}" + (f" and {more} more" if more > 0 else "")
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
    return target_findings([(cluster, limits)], settings)


def target_findings(
    clusters: Sequence[tuple[ClusterReport, Mapping[str, InstanceTypeLimits]]],
    settings: Settings,
) -> list[Finding]:
    """The findings of one account x region's clusters: subnet findings once per subnet."""
    startups = [(cluster, node_startup_need(cluster, limits)) for cluster, limits in clusters]
    subnets = shared_subnet_findings(startups, settings)
    pools = [f for cluster, startup in startups for f in pool_findings(cluster, settings, startup)]
    short = {f.resource for f in subnets}
    findings = [*subnets, *pools]
    for cluster, _ in clusters:
        pressure = any(s.subnet_id in short for s in cluster.subnets) or any(
            f.cluster == cluster.name for f in pools
        )
        findings += [*leak_findings(cluster), *waste_findings(cluster, pressure)]
        findings += ceiling_findings(cluster)
    return findings


def ceiling_findings(cluster: ClusterReport) -> list[Finding]:
    """A WARNING for a group that cannot reach its maximum, a CRITICAL for one that cannot
    start a single node (analysis/ceilings.py counts both)."""
    findings = []
    for ceiling in cluster.ceilings:
        if ceiling.severity not in ("CRITICAL", "WARNING"):
            continue
        severity: Severity = "CRITICAL" if ceiling.severity == "CRITICAL" else "WARNING"
        findings.append(
            _finding(
                CEILING_KIND,
                severity,
                cluster,
                _ceiling_resource(ceiling),
                ceiling.note,
                ceiling.nodes_possible,
            )
        )
    return findings


# (account, region, cluster, kind, resource): what names a finding across runs besides its id.
FindingKey = tuple[str, str, str | None, str, str]


def unevaluated(clusters: Iterable[ClusterReport]) -> dict[FindingKey, str]:
    """The findings this run could not evaluate, with why: a scale ceiling the CNI model could
    not count (its instance types unknown to DescribeInstanceTypes, aws-node unreadable...).
    Such a finding is neither present nor gone; an open alert for it is kept, not resolved."""
    return {
        (c.account_id, c.region, c.name, CEILING_KIND, _ceiling_resource(ceiling)): ceiling.note
        for c in clusters
        for ceiling in c.ceilings
        if not ceiling.modelled
    }


def _ceiling_resource(ceiling: Ceiling) -> str:
    return f"{ceiling.kind}/{ceiling.group}"


def sandbox_findings(
    cluster: ClusterReport, failures: Iterable[SandboxFailure], now: datetime
) -> list[Finding]:
    """Pods that could not get an address in the last hour: the symptom itself, CRITICAL."""
    recent = [f for f in failures if _seen_since(f.last_seen, now - SANDBOX_WINDOW)]
    if not recent:
        return []
    pods = sorted({f"{f.namespace}/{f.pod}" for f in recent})
    nodes = sorted({f.node_name for f in recent if f.node_name})
    shown = ", ".join(pods[:5]) + (f" and {len(pods) - 5} more" if len(pods) > 5 else "")
    where = f" on {_noun(len(nodes), 'node', 'nodes')} {', '.join(nodes)}" if nodes else ""
    message = (
        f"{len(pods)} {_noun(len(pods), 'pod', 'pods')} could not get an IP address in the last "
        f"hour{where}: {shown}"
    )
    return [
        _finding("pods_without_addresses", "CRITICAL", cluster, cluster.name, message, len(pods))
    ]


def health_findings(cluster: ClusterReport, issues: Iterable[HealthIssue]) -> list[Finding]:
    """EKS's own cluster health issues; running out of addresses is CRITICAL."""
    findings = []
    for issue in issues:
        severity: Severity = "CRITICAL" if issue.code in CRITICAL_HEALTH_CODES else "WARNING"
        on = f" ({', '.join(issue.resource_ids)})" if issue.resource_ids else ""
        message = f"EKS reports {issue.code}{on}: {issue.message}".rstrip(": ")
        findings.append(_finding("eks_health", severity, cluster, issue.code, message, None))
    return findings


def _seen_since(when: str, since: datetime) -> bool:
    try:
        moment = datetime.fromisoformat(when.replace("Z", "+00:00"))
    except ValueError:
        return True  # an event with no readable time is still an event: report it
    return moment.tzinfo is None or moment >= since


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


def _noun(count: int, one: str, many: str) -> str:
    return one if count == 1 else many
