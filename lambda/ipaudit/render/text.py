"""The human report printed when `--json` is not given.

Everything is laid out for a given width (the CLI passes the terminal's, 80 on a pipe): prose
wraps at spaces, tables drop their optional columns until they fit, and a command breaks with
shell line continuations so that it still pastes.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable, Sequence

from ipaudit.capacity.nau import describe as describe_nau
from ipaudit.report import (
    ADDRESS_OWNERS,
    SEVERITY_RANK,
    ClusterReport,
    Finding,
    Report,
    SubnetReport,
)
from ipaudit.words import plural

BAR_WIDTH = 20
TOP_NODES = 5
DEFAULT_WIDTH = 80  # what the report is laid out for when no terminal says otherwise
_HANGING = "  "  # continuation lines of a wrapped paragraph sit this much deeper
_PERCENT = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)%")


def free_bar(free: int, usable: int, width: int = BAR_WIDTH) -> str:
    """`[####------]`: the filled part is the share of addresses still free."""
    filled = 0 if usable <= 0 else round(width * max(0, min(free, usable)) / usable)
    if free > 0 and filled == 0:
        filled = 1  # a sliver left must not look like none
    return "[" + "#" * filled + "-" * (width - filled) + "]"


def percent(value: float) -> str:
    """Every percentage of the text report, with the one precision it uses."""
    return f"{value:.1f}%"


def same_precision(text: str) -> str:
    """`text` with each percentage in `percent`'s precision. Findings' messages are worded once
    for every destination (Slack, SNS, the digest); the terminal report aligns them with its
    own numbers instead of showing `92%` beside `94.8%`."""
    return _PERCENT.sub(lambda match: percent(float(match[1])), text)


def wrap(text: str, width: int, indent: str = "", hanging: str = _HANGING) -> str:
    """One paragraph wrapped at spaces; ids, paths and URLs are never broken."""
    return textwrap.fill(
        text,
        width=width,
        initial_indent=indent,
        subsequent_indent=indent + hanging,
        break_long_words=False,
        break_on_hyphens=False,
    )


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[object]],
    indent: str = "  ",
    *,
    width: int | None = None,
    optional: Sequence[int] = (),
) -> str:
    """Columns aligned; while wider than `width`, the `optional` columns go, in that order."""
    cells = [list(map(str, headers)), *([str(c) for c in row] for row in rows)]
    keep = list(range(len(headers)))
    for column in (None, *optional):
        if column is not None:
            keep.remove(column)
        widths = {i: max(len(row[i]) for row in cells) for i in keep}
        if width is None or len(indent) + sum(widths.values()) + 2 * (len(keep) - 1) <= width:
            break
    lines = []
    for row in cells:
        parts = [
            row[i].rjust(widths[i]) if _numeric(row[i]) else row[i].ljust(widths[i]) for i in keep
        ]
        lines.append(indent + "  ".join(parts).rstrip())
    return "\n".join(lines)


def _numeric(cell: str) -> bool:
    return cell.replace(".", "", 1).replace("%", "").lstrip("-").isdigit()


def _maybe(value: int | None) -> str:
    return "?" if value is None else str(value)


def command_lines(command: str, width: int, indent: str) -> list[str]:
    """`$ command`, broken at spaces outside quotes with ` \\` continuations when too long, so
    that the lines still paste into a shell as one command; one step a line stays so."""
    lines = []
    for step in command.splitlines():
        words = _shell_words(step)
        line = f"{indent}$ {words[0] if words else ''}"
        for word in words[1:]:
            if len(line) + 1 + len(word) + 2 > width:
                lines.append(line + " \\")
                line = f"{indent}    {word}"
            else:
                line += f" {word}"
        lines.append(line)
    return lines


def _shell_words(line: str) -> list[str]:
    """The line split at spaces outside single and double quotes (the quotes kept)."""
    words, word, quote = [], "", ""
    for char in line:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == " ":
            if word:
                words.append(word)
            word = ""
            continue
        word += char
    return [*words, word] if word else words


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
# ...and for one address, where the word changes.
OWNER_WORD = {
    "node_primary": "node primary",
    "pods": "pod",
    "branch": "branch ENI",
    "other_clusters": "other cluster",
    "load_balancers": "load balancer",
    "vpc_endpoints": "VPC endpoint",
    "nat_gateways": "NAT gateway",
    "other_aws_services": "other AWS service",
    "other": "other ENI",
}


def attribution_line(subnet: SubnetReport, cluster: str = "") -> str:
    """`subnet-a  1019 used = 20 node primaries + 1200 pods + ...`: only owners holding some."""
    used = subnet.usable - subnet.free
    parts = [
        plural(count, OWNER_WORD.get(owner, OWNER_WORDS[owner]), OWNER_WORDS[owner])
        for owner in ADDRESS_OWNERS
        if (count := subnet.addresses.get(owner, 0))
    ]
    roles = ",".join(subnet.roles) or "no role"
    # The other clusters drawing on it: the one being read is not "shared with" itself.
    others = sorted(c for c in subnet.clusters if c != cluster)
    shared = f"; shared with {', '.join(others)}" if len(subnet.clusters) > 1 and others else ""
    return f"{subnet.subnet_id}  {used} used = {' + '.join(parts) or '0'}  ({roles}{shared})"


def render_cluster(cluster: ClusterReport, width: int = DEFAULT_WIDTH) -> str:
    # Fargate pods run on no node of the table: said apart, not as the nodes' pods.
    on_fargate = cluster.fargate_pods or 0
    fargate = f"; {plural(on_fargate, 'pod')} more on Fargate" if on_fargate else ""
    node_pods = None if cluster.pods is None else cluster.pods - on_fargate
    nodes = len(cluster.nodes)
    lines = [
        wrap(
            f"Cluster {cluster.name}  ({cluster.account_id} / {cluster.region} / {cluster.vpc_id})",
            width,
        ),
        wrap(f"network: {MODE_WORDS.get(cluster.network_mode, cluster.network_mode)}", width, "  "),
        wrap(f"aws-node: {_aws_node(cluster.cni)}", width, "  "),
        *(wrap(line, width, "  ", "    ") for line in pod_pool_lines(cluster)),
        wrap(
            f"{plural(nodes, 'node')} {'holds' if nodes == 1 else 'hold'} "
            f"{plural(cluster.ips_held, 'address', 'addresses')} for "
            f"{_maybe(node_pods)} pods ({_maybe(cluster.warm_ips)} warm){fargate}",
            width,
            "  ",
        ),
        *(wrap(line, width, "  ", "    ") for line in nau_lines(cluster)),
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
                    percent(s.free_pct),
                    free_bar(s.free, s.usable),
                    s.free_prefix_blocks,
                )
                for s in cluster.subnets
            ),
            width=width,
            optional=(6, 4),  # the bar, then `usable` (the CIDR and the findings say it)
        ),
        "",
        "  Who holds the used addresses:",
        *(wrap(attribution_line(s, cluster.name), width, "    ", "    ") for s in cluster.subnets),
    ]
    wasting = sorted(cluster.nodes, key=lambda n: (-(n.warm_ips or 0), -n.ips_held, n.instance_id))[
        :TOP_NODES
    ]
    if wasting:
        lines += [
            "",
            f"  Nodes wasting the most ({len(wasting)} of {nodes}):",
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
                width=width,
            ),
        ]
    if cluster.leaked_enis:
        lines += [
            "",
            f"  {plural(len(cluster.leaked_enis), 'leaked CNI ENI')}:",
            table(
                ("eni", "subnet", "addresses"),
                ((e.eni_id, e.subnet_id, e.ips) for e in cluster.leaked_enis),
                width=width,
            ),
        ]
    lines += render_ceilings(cluster, width)
    rec = cluster.recommendation
    if rec is not None:
        lines += [
            "",
            wrap(
                f"Recommendation ({rec.kind}): {_settings(rec.settings) or 'no change'}",
                width,
                "  ",
            ),
        ]
        if rec.kind == "tune":
            lines.append(
                wrap(
                    f"holds {rec.projected_ips_held} addresses instead of "
                    f"{_maybe(rec.current_ips_held)}: {rec.ips_returned} returned to the subnets",
                    width,
                    "    ",
                )
            )
            lines += command_lines(rec.command, width, "    ")
        lines += [
            wrap(same_precision(line), width, "    ", "") for line in rec.rationale.splitlines()
        ]
    return "\n".join(lines)


def _aws_node(cni: dict[str, str] | None) -> str:
    if cni is None:
        return "not running (or not readable): no settings to report"
    return _settings(cni) or "defaults (WARM_ENI_TARGET=1)"


def _settings(settings: dict[str, str]) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(settings.items()))


def render_findings(findings: Sequence[Finding], width: int = DEFAULT_WIDTH) -> str:
    if not findings:
        return "Findings: none"
    return "\n".join(
        [f"Findings ({len(findings)}):"]
        + [
            wrap(
                same_precision(f"{f.severity:<8} {f.cluster or '-'}: {f.message}{_mute_note(f)}"),
                width,
                "  ",
                " " * 9,
            )
            for f in findings
        ]
    )


def _mute_note(finding: Finding) -> str:
    if not finding.muted:
        return ""
    return f" [muted until {finding.mute_expires_at} by {finding.muted_by}: {finding.mute_reason}]"


def _concerns(finding: Finding, cluster: ClusterReport) -> bool:
    """Whether the finding is about the cluster: its own, or a shared subnet's (no single
    cluster) drawing on one of its subnets."""
    if (finding.account_id, finding.region) != (cluster.account_id, cluster.region):
        return False
    if finding.cluster is None:
        return any(s.subnet_id == finding.resource for s in cluster.subnets)
    return finding.cluster == cluster.name


def story_order(report: Report) -> list[ClusterReport]:
    """The clusters worst first: by their most severe finding, then by how many findings they
    have, then by their least free subnet; clusters with nothing to say come last, by name."""

    def worst_first(cluster: ClusterReport) -> tuple[int, int, float, str]:
        found = [SEVERITY_RANK[f.severity] for f in report.findings if _concerns(f, cluster)]
        least_free = min((s.free_pct for s in cluster.subnets), default=100.0)
        return (-max(found, default=-1), -len(found), least_free, cluster.name)

    return sorted(report.clusters, key=worst_first)


def nau_lines(cluster: ClusterReport) -> list[str]:
    """The VPC's Network Address Usage against its quota, when it was counted."""
    nau = cluster.network_address_usage
    return [] if nau is None else [describe_nau(nau)]


def pod_pool_lines(cluster: ClusterReport) -> list[str]:
    """Under subnet discovery, where each zone's pods take addresses: its candidate subnets in
    ipamd's order (most free first), their free addresses summed."""
    if not cluster.subnet_discovery:
        return []
    version = cluster.cni_version or "version unknown"
    lines = [
        f"subnet discovery: on (aws-node {version}): a node's new ENIs go to the valid subnet "
        "of its zone with the most free addresses"
    ]
    free = {s.subnet_id: s.free for s in cluster.subnets}
    zone_of = {s.subnet_id: s.az for s in cluster.subnets}
    pools = {
        zone_of.get(n.subnet_id, ""): n.pool_subnet_ids
        for n in sorted(cluster.nodes, key=lambda n: n.instance_id)
        if n.aws_node and len(n.pool_subnet_ids) > 1
    }
    for zone, pool in sorted(pools.items()):
        each = ", ".join(f"{s} ({free.get(s, 0)} free)" for s in pool)
        lines.append(
            f"pods in {zone} draw on {each}: {sum(free.get(s, 0) for s in pool)} free in all"
        )
    return lines


def render_report(report: Report, width: int = DEFAULT_WIDTH) -> str:
    clusters = story_order(report)

    def told_at(finding: Finding) -> tuple[int, int]:
        # Within a severity, findings follow the clusters' order: the story reads one way.
        where = next((n for n, c in enumerate(clusters) if _concerns(finding, c)), len(clusters))
        return (-SEVERITY_RANK[finding.severity], where)

    findings = sorted(report.findings, key=told_at)
    sections = [render_cluster(c, width) for c in clusters]
    if not report.clusters:
        sections.append("No EKS clusters found.")
    sections.append(render_findings(findings, width))
    gaps = [c for c in report.coverage if c.status == "error"]
    covered = len(report.coverage) - len(gaps)
    coverage = f"Coverage: {covered} of {plural(len(report.coverage), 'scope')} audited fully"
    lines = [coverage]
    lines += [
        wrap(f"{g.account_id}/{g.region}/{g.cluster or '*'}: {g.error}", width, "  ") for g in gaps
    ]
    lines += [
        wrap(f"note {c.account_id}/{c.region}/{c.cluster or '*'}: {note}", width, "  ")
        for c in report.coverage
        for note in c.notes
    ]
    sections.append("\n".join(lines))
    sections.append(f"Run {report.run_id} at {report.generated_at}")
    return "\n\n".join(sections) + "\n"


def render_ceilings(cluster: ClusterReport, width: int = DEFAULT_WIDTH) -> list[str]:
    """The node groups' and NodePools' scale ceilings: the one-line answer, then the zone
    numbers it is counted from."""
    if not cluster.ceilings:
        return []
    lines = ["", "  Scale ceilings (new nodes spread evenly over the zones):"]
    for ceiling in cluster.ceilings:
        lines.append(wrap(ceiling.note, width, "    ", "      "))
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
                width=width,
                optional=(3,),
            )
        )
    return lines
