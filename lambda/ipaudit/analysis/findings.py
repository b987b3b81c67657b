"""Findings: what on-call should hear about, each with an id that is stable across runs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from ipaudit.analysis.ceilings import KIND as CEILING_KIND
from ipaudit.analysis.pool_subnets import discovery_pools, zone_candidates
from ipaudit.capacity.rules import AddressRules
from ipaudit.capacity.startup import launch_need, new_eni_need
from ipaudit.cni.cni_settings import CniSettings
from ipaudit.errors import InputError
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
from ipaudit.words import noun

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
    """The aws-node instance type in use whose new node takes the most addresses, and how many
    (its whole start-up pool, wherever it lands: `capacity.startup`).

    None when aws-node does not hand out the cluster's addresses or its settings are unknown:
    nothing is modelled, so nothing is claimed."""
    needs = _startup_needs(cluster, limits)
    if not needs:
        return None
    instance_type = max(needs, key=lambda t: (needs[t][0] + needs[t][1], t))
    return instance_type, sum(needs[instance_type])


def _startup_needs(
    cluster: ClusterReport, limits: Mapping[str, InstanceTypeLimits], launch: str = ""
) -> dict[str, tuple[int, int]]:
    """Per aws-node instance type in use: what a new node launched in `launch` takes there,
    and what it takes elsewhere (its further ENIs, where aws-node creates them)."""
    rules = _rules(cluster)
    if rules is None:
        return {}
    types = sorted({n.instance_type for n in cluster.nodes if n.aws_node} & set(limits))
    launch = launch or next(iter(cluster.eni_subnets), "")
    return {t: launch_need(limits[t], rules, launch) for t in types}


def _rules(cluster: ClusterReport) -> AddressRules | None:
    if cluster.cni is None or cluster.network_mode != "vpc-cni":
        return None
    try:
        return AddressRules.of(cluster, CniSettings.from_env(cluster.cni))
    except InputError:
        return None


def subnet_demand(
    cluster: ClusterReport, subnet: SubnetReport, startup: tuple[str, int] | None
) -> tuple[str, int] | None:
    """What a new node of the type with the largest start-up need takes from this subnet, as
    the capacity model places it: where nodes launch, its own address and its primary ENI's
    pool (all of it unless custom networking or discovery's exclusion moves the pods'
    addresses off it); where only pods draw, the rest, when this subnet is the only place its
    zone's new ENIs can go. A zone whose new ENIs have several subnets is judged as one pool
    (`pool_findings`), not subnet by subnet."""
    if startup is None:
        return None
    instance_type = startup[0]
    limits = cluster.instance_types.get(instance_type)
    rules = _rules(cluster)
    roles = set(subnet.roles)
    if limits is None or rules is None or not roles:
        return startup  # an older report, or no model: all of it, as before
    charged = 0
    if "nodes" in roles:
        charged += launch_need(limits, rules, subnet.subnet_id)[0]
    elif "pods" in roles:
        zone = _zone_candidates(cluster, subnet.az)
        if zone == [subnet.subnet_id]:
            launch = next((s for s, c in rules.eni_subnets.items() if subnet.subnet_id in c), "")
            charged += launch_need(limits, rules, launch)[1]
    return (instance_type, charged) if charged > 0 else None


def _zone_candidates(cluster: ClusterReport, az: str) -> list[str]:
    """Every subnet new ENIs of nodes launched in `az` may go to, by id."""
    found = zone_candidates(cluster).get(az, [])
    pods_here = {s.subnet_id for s in cluster.subnets if "pods" in s.roles and s.az == az}
    if not cluster.eni_subnets and not pods_here & set(found):
        # A report before `eni_subnets`: the zone's pod subnets stand in.
        return sorted(pods_here)
    return found


def pool_findings(
    cluster: ClusterReport, settings: Settings, startup: tuple[str, int] | None
) -> list[Finding]:
    """Under subnet discovery, the subnets a zone's new ENIs may go to are one pool: it is
    CRITICAL when none of them can hold one more ENI of the largest type (each ENI lands
    whole in one subnet), or below the thresholds together. Only subnets aws-node may use
    count: one tagged `kubernetes.io/role/cni=0` is not room. The launch subnets' own
    findings say what else each blocks."""
    findings = []
    by_id = {s.subnet_id: s for s in cluster.subnets}
    limits = cluster.instance_types.get(startup[0]) if startup else None
    rules = _rules(cluster)
    for zone in sorted(discovery_pools(cluster)):
        subnets = [by_id[s] for s in _zone_candidates(cluster, zone) if s in by_id]
        if len(subnets) < 2:
            continue
        free = sum(s.free for s in subnets)
        usable = sum(s.usable for s in subnets)
        pct = round(100.0 * free / usable, 1) if usable else 0.0
        each = ", ".join(f"{s.subnet_id} {s.free}" for s in subnets)
        severity: Severity | None = None
        why = ""
        eni = new_eni_need(limits, rules) if limits and rules else None
        if startup is not None and eni is not None and all(s.free < eni for s in subnets):
            severity = "CRITICAL"
            why = (
                f"; a new ENI of a {startup[0]} node takes {eni} in one subnet and none has "
                f"them, so pods on full nodes get no address"
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
    Users = list[tuple[ClusterReport, SubnetReport, tuple[str, int] | None, bool]]
    by_subnet: dict[str, Users] = {}
    for cluster, startup in clusters:
        pools = discovery_pools(cluster)
        for subnet in cluster.subnets:
            if "nodes" not in subnet.roles and subnet in pools.get(subnet.az, ()):
                continue  # a pod subnet of a pool: the pool's finding judges it
            demand = subnet_demand(cluster, subnet, startup)
            # Pods of nodes launched here have other subnets for their next ENIs.
            elsewhere = bool(set(_zone_candidates(cluster, subnet.az)) - {subnet.subnet_id})
            by_subnet.setdefault(subnet.subnet_id, []).append((cluster, subnet, demand, elsewhere))
    findings = []
    for subnet_id, users in by_subnet.items():
        judged = [(_subnet_severity(s, settings, d, e), c, s) for c, s, d, e in users]
        (severity, why), owner, subnet = max(
            judged, key=lambda j: (SEVERITY_RANK.get(j[0][0] or "", -1), j[0][1])
        )
        if severity is None:
            continue
        names = sorted({c.name for c, _, _, _ in users} | set(subnet.clusters))
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
    """A finding about a subnet (or a VPC): the cluster's when only it draws on it (today's
    id), no single cluster's when several do."""
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
    subnet: SubnetReport,
    settings: Settings,
    startup: tuple[str, int] | None,
    elsewhere: bool = False,
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
        if "nodes" in subnet.roles and elsewhere:
            return "CRITICAL", (
                f"; new {instance_type} nodes cannot launch in it (each takes {need} here at "
                f"start-up; their pods' next ENIs may go to other subnets)"
            )
        return "CRITICAL", f"; a new {instance_type} node needs {need} at start-up"
    launch_only = "nodes" in subnet.roles and "pods" not in subnet.roles
    if startup is not None and launch_only and subnet.free_pct < settings.warn_free_pct:
        # Only new nodes' own addresses come from here (their pods draw elsewhere): nothing
        # is blocked while a node fits, counted in whole nodes as the scale ceiling counts.
        instance_type, need = startup
        return "WARNING", (
            f", below {settings.warn_free_pct:g}%: {subnet.free // need} more {instance_type} "
            f"nodes can launch in it ({need} each here)"
        )
    # Where nodes launch, how many more fit: the per-node need the scale ceilings count with.
    more = ""
    if startup is not None and "nodes" in subnet.roles:
        more = f": {subnet.free // startup[1]} more {startup[0]} nodes can launch in it"
    if subnet.free_pct < settings.crit_free_pct:
        return "CRITICAL", f", below {settings.crit_free_pct:g}%{more}"
    if subnet.free_pct < settings.warn_free_pct:
        return "WARNING", f", below {settings.warn_free_pct:g}%{more}"
    return None, ""


def leak_findings(cluster: ClusterReport) -> list[Finding]:
    if not cluster.leaked_enis:
        return []
    ips = sum(leak.ips for leak in cluster.leaked_enis)
    ids = ", ".join(leak.eni_id for leak in cluster.leaked_enis[:5])
    more = len(cluster.leaked_enis) - 5
    count = len(cluster.leaked_enis)
    enis = f"{count} leaked CNI {noun(count, 'ENI holds', 'ENIs hold')}"
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
    # The capacity model reads the types' limits from the report, as `what-if` does.
    clusters = [
        (c if c.instance_types else replace(c, instance_types=dict(limits)), limits)
        for c, limits in clusters
    ]
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
    where = f" on {noun(len(nodes), 'node', 'nodes')} {', '.join(nodes)}" if nodes else ""
    message = (
        f"{len(pods)} {noun(len(pods), 'pod', 'pods')} could not get an IP address in the last "
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
