"""The human report printed when `--json` is not given."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ipaudit.report import ADDRESS_OWNERS, ClusterReport, Finding, Report, SubnetReport

BAR_WIDTH = 20
TOP_NODES = 5


def free_bar(free: int, usable: int, width: int = BAR_WIDTH) -> str:
    """`[####------]`: the filled part is the share of addresses still free."""
    filled = 0 if usable <= 0 else round(width * max(0, min(free, usable)) / usable)
    if free > 0 and filled == 0:
        filled = 1  # a sliver left must not look like none
    return "[" + "#" * filled + "-" * (width - filled) + "]"


def table(headers: Sequence[str], rows: Iterable[Sequence[object]], indent: str = "  ") -> str:
    cells = [list(map(str, headers)), *([str(c) for c in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for row in cells:
        parts = [
            cell.rjust(w) if _numeric(cell) else cell.ljust(w)
            for cell, w in zip(row, widths, strict=True)
        ]
        lines.append(indent + "  ".join(parts).rstrip())
    return "\n".join(lines)


def _numeric(cell: str) -> bool:
    return cell.replace(".", "", 1).replace("%", "").lstrip("-").isdigit()


def _maybe(value: int | None) -> str:
    return "?" if value is None else str(value)


# How each network mode reads in the terminal; what the model does not cover says so.
MODE_WORDS = {
    "vpc-cni": "VPC CNI (aws-node), IPv4",
    "vpc-cni-ipv6": "VPC CNI (aws-node), IPv6: pods take no IPv4 addresses, no warm pool",
    "auto-mode": "EKS Auto Mode: addresses attributed, warm pool not modelled",
    "other-cni": "another CNI (no aws-node): addresses attributed, warm pool not modelled",
    "unknown": "unknown (Kubernetes unreachable, EKS cannot tell)",
}
# Short names for the attribution line, in report order.
OWNER_WORDS = {
    "node_primary": "node primaries",
    "pods": "pods",
    "warm": "warm",
    "aws_node_unknown": "aws-node (pods unknown)",
    "branch": "branch ENIs",
    "fargate": "Fargate",
    "leaked": "leaked",
    "other_clusters": "other clusters",
    "eks_control_plane": "EKS control plane",
    "load_balancers": "load balancers",
    "vpc_endpoints": "VPC endpoints",
    "nat_gateways": "NAT gateways",
    "lambda": "Lambda",
    "other_aws_services": "other AWS services",
    "other": "other ENIs",
    "unseen": "unseen",
}


def attribution_line(subnet: SubnetReport) -> str:
    """`subnet-a  1019 used = 20 node primaries + 1200 pods + ...`: only owners holding some."""
    used = subnet.usable - subnet.free
    parts = [
        f"{subnet.addresses[owner]} {OWNER_WORDS[owner]}"
        for owner in ADDRESS_OWNERS
        if subnet.addresses.get(owner)
    ]
    roles = ",".join(subnet.roles) or "no role"
    shared = (
        f"; shared with {', '.join(c for c in subnet.clusters)}" if len(subnet.clusters) > 1 else ""
    )
    return f"{subnet.subnet_id}  {used} used = {' + '.join(parts) or '0'}  ({roles}{shared})"


def render_cluster(cluster: ClusterReport) -> str:
    fargate = f", {cluster.fargate_pods} on Fargate" if cluster.fargate_pods else ""
    lines = [
        f"Cluster {cluster.name}  ({cluster.account_id} / {cluster.region} / {cluster.vpc_id})",
        f"  network: {MODE_WORDS.get(cluster.network_mode, cluster.network_mode)}",
        f"  aws-node: {_aws_node(cluster.cni)}",
        f"  {len(cluster.nodes)} nodes hold {cluster.ips_held} addresses for "
        f"{_maybe(cluster.pods)} pods{fargate} ({_maybe(cluster.warm_ips)} warm)",
        "",
        table(
            ("subnet", "az", "cidr", "free", "usable", "free %", "", "free /28"),
            (
                (
                    s.subnet_id,
                    s.az,
                    s.cidr,
                    s.free,
                    s.usable,
                    f"{s.free_pct:g}%",
                    free_bar(s.free, s.usable),
                    s.free_prefix_blocks,
                )
                for s in cluster.subnets
            ),
        ),
        "",
        "  Who holds the used addresses:",
        *(f"    {attribution_line(s)}" for s in cluster.subnets),
    ]
    wasting = sorted(cluster.nodes, key=lambda n: (-(n.warm_ips or 0), -n.ips_held, n.instance_id))[
        :TOP_NODES
    ]
    if wasting:
        lines += [
            "",
            f"  Nodes wasting the most ({len(wasting)} of {len(cluster.nodes)}):",
            table(
                ("instance", "type", "ENIs", "held", "pods", "warm"),
                (
                    (
                        n.instance_id,
                        n.instance_type,
                        n.enis,
                        n.ips_held,
                        _maybe(n.pods),
                        _maybe(n.warm_ips),
                    )
                    for n in wasting
                ),
            ),
        ]
    if cluster.leaked_enis:
        lines += [
            "",
            "  Leaked CNI ENIs:",
            table(
                ("eni", "subnet", "addresses"),
                ((e.eni_id, e.subnet_id, e.ips) for e in cluster.leaked_enis),
            ),
        ]
    lines += render_ceilings(cluster)
    rec = cluster.recommendation
    if rec is not None:
        lines += ["", f"  Recommendation ({rec.kind}): {_settings(rec.settings) or 'no change'}"]
        if rec.kind == "tune":
            lines.append(
                f"    holds {rec.projected_ips_held} addresses instead of "
                f"{_maybe(rec.current_ips_held)}: {rec.ips_returned} returned to the subnets"
            )
            lines.append(f"    $ {rec.command}")
        lines += [f"    {line}" for line in rec.rationale.splitlines()]
    return "\n".join(lines)


def _aws_node(cni: dict[str, str] | None) -> str:
    if cni is None:
        return "not running (or not readable): no settings to report"
    return _settings(cni) or "defaults (WARM_ENI_TARGET=1)"


def _settings(settings: dict[str, str]) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(settings.items()))


def render_findings(findings: Sequence[Finding]) -> str:
    if not findings:
        return "Findings: none"
    return "\n".join(
        [f"Findings ({len(findings)}):"]
        + [f"  {f.severity:<8} {f.cluster or '-'}: {f.message}{_mute_note(f)}" for f in findings]
    )


def _mute_note(finding: Finding) -> str:
    if not finding.muted:
        return ""
    return f" [muted until {finding.mute_expires_at} by {finding.muted_by}: {finding.mute_reason}]"


def render_report(report: Report) -> str:
    sections = [render_cluster(c) for c in report.clusters]
    if not report.clusters:
        sections.append("No EKS clusters found.")
    sections.append(render_findings(report.findings))
    gaps = [c for c in report.coverage if c.status == "error"]
    covered = len(report.coverage) - len(gaps)
    coverage = f"Coverage: {covered} of {len(report.coverage)} scopes audited fully"
    if gaps:
        coverage += "\n" + "\n".join(
            f"  {g.account_id}/{g.region}/{g.cluster or '*'}: {g.error}" for g in gaps
        )
    notes = [(c, note) for c in report.coverage for note in c.notes]
    if notes:
        coverage += "\n" + "\n".join(
            f"  note {c.account_id}/{c.region}/{c.cluster or '*'}: {note}" for c, note in notes
        )
    sections.append(coverage)
    sections.append(f"Run {report.run_id} at {report.generated_at}")
    return "\n\n".join(sections) + "\n"


def render_ceilings(cluster: ClusterReport) -> list[str]:
    """The node groups' and NodePools' scale ceilings: the one-line answer, then the zone
    numbers it is counted from."""
    if not cluster.ceilings:
        return []
    lines = ["", "  Scale ceilings (new nodes spread evenly over the zones):"]
    for ceiling in cluster.ceilings:
        lines.append(f"    {ceiling.note}")
        if not ceiling.modelled:
            continue
        rows = []
        for zone in ceiling.zones:
            pool = "-" if zone.free_pool is None else f"{zone.free_pool} / {zone.need_pool}"
            blocks = (
                "-"
                if zone.free_prefix_blocks is None
                else f"{zone.free_prefix_blocks} / {zone.need_prefix_blocks}"
            )
            rows.append(
                (
                    zone.az,
                    f"{zone.free_launch} / {zone.need_launch}",
                    pool,
                    blocks,
                    zone.nodes_possible,
                )
            )
        lines.append(
            table(
                (
                    "zone",
                    "launch free / per node",
                    "pods free / per node",
                    "/28 free / per node",
                    "can start",
                ),
                rows,
                indent="      ",
            )
        )
    return lines
