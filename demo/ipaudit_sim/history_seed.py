"""Earlier runs for `ipaudit demo`: a week in which free addresses shrank toward today's report,
so the demo's forecast and the digest's bar chart have history to draw on."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import boto3

from ipaudit.errors import InputError
from ipaudit.report import ClusterReport, Report, SubnetReport
from ipaudit.settings import Settings
from ipaudit.store.history import record_run
from ipaudit.store.runs import store_run
from ipaudit.timestamps import key_time, parse_time

# Each subnet loses this share of its usable addresses a day, give or take a little wobble so
# the chart does not look ruled and the robust trend has something to shrug off.
DAILY_LOSS_SHARE = 0.015
WOBBLE = (0, 3, -2, 4, -1, 2, -3)


def seed_history(
    report: Report,
    settings: Settings,
    session: boto3.Session,
    *,
    days: int = 7,
    now: datetime | None = None,
) -> None:
    """Store one run a day for the `days` days before `now` (default: the report's time)."""
    if not settings.table:
        raise InputError("IPAUDIT_TABLE: not set; seeding history needs a table")
    now = now or parse_time(report.generated_at)
    client = session.client("dynamodb")
    for back in range(days, 0, -1):
        earlier = Report(
            run_id=f"{report.run_id}-seed-{back}d",
            generated_at=key_time(now - timedelta(days=back)),
            clusters=[_earlier(cluster, back) for cluster in report.clusters],
            coverage=report.coverage,
        )
        store_run(client, settings.table, earlier)
        record_run(client, settings.table, earlier)


def _earlier(cluster: ClusterReport, back: int) -> ClusterReport:
    subnets = [_subnet_then(subnet, index, back) for index, subnet in enumerate(cluster.subnets)]
    regained = sum(then.free - now.free for then, now in zip(subnets, cluster.subnets, strict=True))
    return replace(
        cluster,
        subnets=subnets,
        nodes=[],  # node detail is today's alone; the history needs the totals
        ips_held=max(0, cluster.ips_held - regained),
        warm_ips=None if cluster.warm_ips is None else max(0, cluster.warm_ips - regained),
    )


def _subnet_then(subnet: SubnetReport, index: int, back: int) -> SubnetReport:
    loss = max(2, round(subnet.usable * DAILY_LOSS_SHARE * (1 + index % 3) / 2))
    wobble = WOBBLE[(back + index) % len(WOBBLE)]
    free = max(0, min(subnet.usable, subnet.free + loss * back + wobble))
    blocks = min(subnet.usable // 16, subnet.free_prefix_blocks + (free - subnet.free) // 16)
    return replace(
        subnet,
        free=free,
        free_pct=round(100 * free / subnet.usable, 1) if subnet.usable else 0.0,
        free_prefix_blocks=max(0, blocks),
    )
