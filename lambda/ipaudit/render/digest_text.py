"""The digest's plain-text part: the same facts as the HTML, for clients that show text."""

from __future__ import annotations

from ipaudit.digest.week import Week
from ipaudit.words import plural


def render_text(week: Week, subject: str) -> str:
    lines = [
        subject,
        f"{week.start:%a %d %b %H:%M} - {week.end:%a %d %b %Y %H:%M} UTC",
        "",
        f"{plural(len(week.raised), 'alert')} raised and {len(week.resolved)} resolved this week.",
    ]
    if not week.clusters:
        lines += ["", "No audit runs were stored this week."]
    for c in week.clusters:
        ago = "-" if c.free_week_ago is None else str(c.free_week_ago)
        outlook = (
            f"{c.outlook.days_until_zero:.1f} days"
            if c.outlook.status == "ok" and c.outlook.days_until_zero is not None
            else c.outlook.describe()
        )
        pods = "?" if c.pods is None else str(c.pods)
        warm = "?" if c.warm_ips is None else str(c.warm_ips)
        lines += [
            "",
            f"== {c.name} ({c.account_id} / {c.region})",
            f"  free now {c.free_now} of {c.usable}; a week ago {ago}; lowest {c.lowest} "
            f"({c.lowest_at:%a %H:%M})",
            f"  days until full: {outlook}",
            f"  nodes hold {c.ips_held} addresses for {pods} pods ({warm} warm)",
            f"  alerts: {c.raised} raised, {c.resolved} resolved",
        ]
        if c.network_address_usage is not None:
            lines.append(f"  {c.network_address_usage}")
        if c.leaked_enis:
            lines.append(f"  leaked CNI ENIs: {c.leaked_enis} holding {c.leaked_ips} addresses")
        if c.recommendation is not None:
            settings = ", ".join(f"{k}={v}" for k, v in c.recommendation.settings.items())
            lines += [
                f"  recommended: {settings} (returns {c.recommendation.ips_returned} addresses)",
                f"    {c.recommendation.command}",
            ]
        lines.append("  free addresses per day (fewest seen), oldest first:")
        for subnet in c.subnets:
            days = " ".join("-" if low is None else str(low) for _, low in subnet.daily_low)
            lines.append(f"    {subnet.subnet_id} ({subnet.az}, {subnet.usable} usable): {days}")
    if week.muted:
        lines += ["", f"Muted ({len(week.muted)}): found, but on-call is not alerted"]
        lines += [
            f"  {f.severity} {f.cluster or '-'}: {f.message}\n"
            f"    muted until {f.mute_expires_at} by {f.muted_by}: {f.mute_reason}"
            for f in week.muted
        ]
    return "\n".join(lines) + "\n"
