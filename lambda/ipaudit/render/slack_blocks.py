"""One Slack message (Block Kit) for everything that changed in a run.

Slack refuses more than 50 blocks and more than 3000 characters in a section's text; whatever
does not fit is summarised in one line, never dropped silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ipaudit.alerts.lifecycle import AlertChange
from ipaudit.render.text import free_bar
from ipaudit.report import SEVERITY_RANK, ClusterReport, Report
from ipaudit.words import noun

MAX_BLOCKS = 50
MAX_SECTION_CHARS = 3000
MAX_HEADER_CHARS = 150
SUBNETS_SHOWN = 5  # when no change names a subnet, the cluster's tightest ones

_ICONS = {
    "new": ":rotating_light:",
    "escalated": ":arrow_double_up:",
    "reminded": ":bell:",
    "resolved": ":white_check_mark:",
}
_ORDER = {"escalated": 0, "new": 1, "reminded": 2, "resolved": 3}

Scope = tuple[str, str, str | None]


def build_payload(changes: Sequence[AlertChange], report: Report) -> dict[str, Any]:
    """The webhook body: header, a section or two per cluster, an overflow line, context.

    `changes` come in the order they were committed. A finding's changes keep that order (after
    an outage one post can carry several), so its last line is its current state; findings are
    ranked by that current state, the worst first."""
    clusters: dict[tuple[str, str, str | None], ClusterReport] = {
        (c.account_id, c.region, c.name): c for c in report.clusters
    }
    threads: dict[str, list[AlertChange]] = {}
    for change in changes:
        threads.setdefault(change.finding.id, []).append(change)
    groups: dict[Scope, list[AlertChange]] = {}
    for thread in sorted(threads.values(), key=lambda t: _rank(t[-1])):
        finding = thread[-1].finding
        groups.setdefault((finding.account_id, finding.region, finding.cluster), []).extend(thread)

    context = {
        "type": "context",
        "elements": [
            {
                "type": "mrkdwn",
                "text": escape(f"ipaudit run `{report.run_id}` · {report.generated_at}"),
            }
        ],
    }
    # Room for the header, the context and one overflow line.
    budget = MAX_BLOCKS - 3
    body: list[dict[str, Any]] = []
    left = list(groups.items())
    while left:
        scope, group = left[0]
        blocks = _cluster_blocks(scope, group, clusters.get(scope))
        if len(body) + len(blocks) > budget:
            break
        body.extend(blocks)
        left.pop(0)
    if left:
        rest = [change for _, group in left for change in group]
        body.append(
            _section(
                f"…and {_counts(rest)} in {len(left)} more {noun(len(left), 'cluster')}, "
                "not shown here."
            )
        )
    return {
        "text": f"ipaudit: {_headline(changes)}",
        "blocks": [_header(changes), *body, context],
    }


def _header(changes: Sequence[AlertChange]) -> dict[str, Any]:
    return {
        "type": "header",
        "text": {
            "type": "plain_text",
            "text": _headline(changes)[:MAX_HEADER_CHARS],
            "emoji": True,
        },
    }


def _headline(changes: Sequence[AlertChange]) -> str:
    open_changes = [c for c in changes if c.change != "resolved"]
    if not open_changes:
        return f":white_check_mark: RESOLVED: {_counts(changes)}"
    worst = max(open_changes, key=lambda c: SEVERITY_RANK[c.finding.severity]).finding.severity
    icon = ":rotating_light:" if worst == "CRITICAL" else ":warning:"
    return f"{icon} {worst}: {_counts(changes)}"


def _counts(changes: Sequence[AlertChange]) -> str:
    tally: dict[str, int] = {}
    for change in sorted(changes, key=lambda c: _ORDER[c.change]):
        tally[change.change] = tally.get(change.change, 0) + 1
    return ", ".join(f"{count} {name}" for name, count in tally.items())


def _cluster_blocks(
    scope: Scope, changes: list[AlertChange], cluster: ClusterReport | None
) -> list[dict[str, Any]]:
    account, region, name = scope
    title = f"*{name}* · account {account} · {region}" if name else f"*{account}* · {region}"
    lines = [title, *(_change_line(change) for change in changes)]
    if cluster is not None:
        lines.extend(_summary_lines(cluster, changes))
    blocks = [_section(_fit([escape(line) for line in lines]))]
    recommendation = cluster.recommendation if cluster is not None else None
    if recommendation is not None and recommendation.ips_returned > 0:
        settings = ", ".join(f"{k}={v}" for k, v in recommendation.settings.items())
        text = (
            f"*Recommended:* {settings} returns {recommendation.ips_returned} addresses\n"
            f"```{recommendation.command}```"
        )
        blocks.append(_section(escape(text)[:MAX_SECTION_CHARS]))
    blocks.append({"type": "divider"})
    return blocks


def _change_line(change: AlertChange) -> str:
    finding = change.finding
    label = change.change.upper()
    if change.change == "escalated" and change.previous_severity != finding.severity:
        label = f"ESCALATED {change.previous_severity} → {finding.severity}"
    elif change.change != "resolved":
        label = f"{label} {finding.severity}"
    late = f" _(late: found {change.late_since})_" if change.late_since else ""
    return f"{_ICONS[change.change]} *{label}* {finding.message}{late}"


def _summary_lines(cluster: ClusterReport, changes: list[AlertChange]) -> list[str]:
    named = {change.finding.resource for change in changes}
    subnets = [s for s in cluster.subnets if s.subnet_id in named]
    if not subnets:
        subnets = sorted(cluster.subnets, key=lambda s: s.free_pct)[:SUBNETS_SHOWN]
    lines = [
        f"`{free_bar(s.free, s.usable, 10)}` {s.subnet_id} ({s.az}): {s.free} of {s.usable} "
        f"free ({s.free_pct:g}%), {s.free_prefix_blocks} free /28 blocks"
        for s in subnets
    ]
    pods = "?" if cluster.pods is None else str(cluster.pods)
    warm = "?" if cluster.warm_ips is None else str(cluster.warm_ips)
    lines.append(
        f"Nodes hold {cluster.ips_held} addresses for {pods} pods ({warm} warm, held but unused)"
    )
    return lines


def _fit(lines: list[str]) -> str:
    """Join lines within a section's limit, ending with a count of the lines left out."""
    kept: list[str] = []
    for index, line in enumerate(lines):
        more = len(lines) - index
        tail = f"\n…and {more} more {noun(more, 'line')}"
        candidate = "\n".join([*kept, line])
        if len(candidate) + (len(tail) if index < len(lines) - 1 else 0) > MAX_SECTION_CHARS:
            room = MAX_SECTION_CHARS - len(tail)
            text = "\n".join(kept)
            return (text[:room] if len(text) > room else text) + tail
        kept.append(line)
    return "\n".join(kept)


def escape(text: str) -> str:
    """Slack's three control characters in mrkdwn, as Slack asks them to be escaped: a command,
    an error or a resource name can hold them, and `<...>` would turn into a link or mention."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _rank(change: AlertChange) -> tuple[int, int, str]:
    return (-SEVERITY_RANK[change.finding.severity], _ORDER[change.change], change.finding.id)
