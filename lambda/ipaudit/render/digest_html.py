"""The digest as HTML that mail clients render: tables, inline styles, no scripts or images.

The bar chart is table cells with a height and a background colour, which Outlook, Gmail and
Apple Mail all draw; `<div>` heights and `<style>` blocks are not reliable in mail.
"""

from __future__ import annotations

from html import escape

from ipaudit.digest.week import ClusterWeek, SubnetWeek, Week
from ipaudit.words import plural

BAR_HEIGHT = 60  # pixels for a subnet's best day of the week
FONT = "font-family:Arial,Helvetica,sans-serif;"
CELL = "padding:4px 8px;border-bottom:1px solid #e5e7eb;"
RED, AMBER, GREEN, GREY = "#dc2626", "#d97706", "#16a34a", "#9ca3af"


def render_html(week: Week, subject: str) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(subject)}</title></head>",
        f'<body style="margin:0;padding:16px;background:#f3f4f6;{FONT}color:#111827">',
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" '
        'style="max-width:760px;margin:0 auto;background:#ffffff;border-collapse:collapse">',
        f'<tr><td style="padding:16px 20px;background:#1f2937;color:#ffffff;{FONT}">'
        f'<div style="font-size:20px;font-weight:bold">{escape(subject)}</div>'
        f'<div style="font-size:13px;color:#d1d5db">{week.start:%a %d %b %H:%M} &ndash; '
        f"{week.end:%a %d %b %Y %H:%M} UTC</div></td></tr>",
        f'<tr><td style="padding:16px 20px">{_overview(week)}</td></tr>',
    ]
    for cluster in week.clusters:
        parts.append(f'<tr><td style="padding:8px 20px 20px">{_cluster(cluster, week)}</td></tr>')
    if week.muted:
        parts.append(f'<tr><td style="padding:8px 20px 20px">{_muted(week)}</td></tr>')
    parts.append(
        f'<tr><td style="padding:12px 20px;font-size:12px;color:#6b7280;{FONT}">'
        "Headroom is free addresses across the cluster's subnets. Bars show the fewest free "
        "addresses each day. Sent by ipaudit.</td></tr>"
    )
    parts.append("</table></body></html>")
    return "\n".join(parts)


def _overview(week: Week) -> str:
    if not week.clusters:
        return f'<p style="{FONT}">No audit runs were stored this week.</p>'
    head = "".join(
        f'<th align="left" style="{CELL}{FONT}font-size:12px;color:#374151">{escape(h)}</th>'
        for h in (
            "cluster",
            "account / region",
            "free now",
            "a week ago",
            "lowest",
            "days until full",
            "held / used",
            "alerts",
        )
    )
    rows = []
    for c in week.clusters:
        cells = [
            f"<strong>{escape(c.name)}</strong>",
            f"{escape(c.account_id)}<br>{escape(c.region)}",
            f'<span style="color:{_colour(c.free_now, c.usable)};font-weight:bold">'
            f"{c.free_now}</span> of {c.usable}",
            "&ndash;" if c.free_week_ago is None else str(c.free_week_ago),
            f"{c.lowest}<br><span style='color:#6b7280'>{c.lowest_at:%a %H:%M}</span>",
            escape(_outlook(c)),
            f"{c.ips_held} / {'?' if c.pods is None else c.pods}",
            f"{c.raised} raised<br>{c.resolved} resolved",
        ]
        rows.append(
            "<tr>"
            + "".join(
                f'<td valign="top" style="{CELL}{FONT}font-size:13px">{x}</td>' for x in cells
            )
            + "</tr>"
        )
    return (
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" '
        f'style="border-collapse:collapse"><tr>{head}</tr>{"".join(rows)}</table>'
        f'<p style="{FONT}font-size:13px">{plural(len(week.raised), "alert")} raised and '
        f"{len(week.resolved)} resolved this week.</p>"
    )


def _muted(week: Week) -> str:
    items = "".join(
        f'<li style="{FONT}font-size:13px;margin:4px 0">{escape(f.severity)} '
        f"<strong>{escape(f.cluster or '-')}</strong>: {escape(f.message)}<br>"
        f'<span style="color:#6b7280">muted until {escape(f.mute_expires_at or "")} by '
        f"{escape(f.muted_by or '')}: {escape(f.mute_reason or '')}</span></li>"
        for f in week.muted
    )
    return (
        f'<h2 style="{FONT}font-size:16px;margin:8px 0">Muted ({len(week.muted)})</h2>'
        f'<p style="{FONT}font-size:13px;margin:4px 0">Found, but on-call is not alerted.</p>'
        f'<ul style="margin:4px 0;padding-left:20px">{items}</ul>'
    )


def _cluster(c: ClusterWeek, week: Week) -> str:
    title = (
        f'<h2 style="{FONT}font-size:16px;margin:8px 0">{escape(c.name)} '
        f'<span style="font-weight:normal;color:#6b7280">{escape(c.account_id)} · '
        f"{escape(c.region)}</span></h2>"
    )
    facts = [
        f"Nodes hold {c.ips_held} addresses for {'?' if c.pods is None else c.pods} pods "
        f"({'?' if c.warm_ips is None else c.warm_ips} warm, held but unused).",
    ]
    if c.network_address_usage is not None:
        facts.append(escape(c.network_address_usage) + ".")
    if c.leaked_enis:
        enis = "leaked CNI ENI holds" if c.leaked_enis == 1 else "leaked CNI ENIs hold"
        facts.append(f"{c.leaked_enis} {enis} {c.leaked_ips} addresses.")
    if c.recommendation is not None:
        settings = ", ".join(f"{k}={v}" for k, v in c.recommendation.settings.items())
        facts.append(
            f"Recommended: <strong>{escape(settings)}</strong> returns "
            f"<strong>{c.recommendation.ips_returned}</strong> addresses.<br>"
            f'<code style="font-family:Consolas,Menlo,monospace;font-size:12px;'
            f'background:#f3f4f6;padding:2px 4px">{escape(c.recommendation.command)}</code>'
        )
    text = "".join(f'<p style="{FONT}font-size:13px;margin:4px 0">{fact}</p>' for fact in facts)
    return title + text + _chart(c.subnets, week)


def _chart(subnets: list[SubnetWeek], week: Week) -> str:
    """One row per subnet, one bar per day: the day's fewest free addresses."""
    day_heads = "".join(
        f'<td align="center" style="{FONT}font-size:11px;color:#6b7280;padding:2px">'
        f"{day:%a}<br>{day:%d}</td>"
        for day in week.days
    )
    rows = [
        f'<tr><td style="{FONT}font-size:11px;color:#6b7280">free addresses</td>{day_heads}</tr>'
    ]
    for subnet in subnets:
        # One scale per subnet (its best day = full height) so a week's decline shows even in
        # a subnet that was tight all week; the colour tells how tight against its size.
        scale = max([low for _, low in subnet.daily_low if low is not None] + [1])
        bars = "".join(_bar(low, subnet.usable, scale) for _, low in subnet.daily_low)
        label = (
            f"{escape(subnet.subnet_id)}<br><span style='color:#6b7280'>{escape(subnet.az)} · "
            f"{subnet.free_now} of {subnet.usable} free</span>"
        )
        rows.append(
            f'<tr><td valign="bottom" style="{FONT}font-size:12px;padding:4px 8px 4px 0">'
            f"{label}</td>{bars}</tr>"
        )
    return (
        '<table role="presentation" cellpadding="0" cellspacing="0" '
        f'style="border-collapse:collapse;margin-top:8px">{"".join(rows)}</table>'
    )


def _bar(free: int | None, usable: int, scale: int) -> str:
    if free is None:
        inner = f'<span style="{FONT}font-size:10px;color:{GREY}">&ndash;</span>'
    else:
        height = max(round(BAR_HEIGHT * max(0, free) / scale), 2)  # 0 free: a red sliver
        colour = _colour(free, usable)
        inner = (
            '<table role="presentation" cellpadding="0" cellspacing="0" width="22" '
            'style="border-collapse:collapse;margin:0 auto">'
            f'<tr><td height="{height}" bgcolor="{colour}" title="{free} free" '
            f'style="height:{height}px;background:{colour};font-size:0;line-height:0">&nbsp;'
            "</td></tr></table>"
            f'<span style="{FONT}font-size:10px;color:#374151">{free}</span>'
        )
    return (
        f'<td align="center" valign="bottom" height="{BAR_HEIGHT + 16}" '
        f'style="height:{BAR_HEIGHT + 16}px;width:34px;padding:0 3px;vertical-align:bottom">'
        f"{inner}</td>"
    )


def _colour(free: int, usable: int) -> str:
    share = free / usable if usable else 0.0
    return RED if share < 0.10 else AMBER if share < 0.25 else GREEN


def _outlook(c: ClusterWeek) -> str:
    if c.outlook.status == "ok" and c.outlook.days_until_zero is not None:
        return f"{c.outlook.days_until_zero:.1f}"
    return c.outlook.describe()
