"""One audit of every target, in parallel, into one report."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import boto3

from ipaudit.analysis.report_builder import build_report
from ipaudit.audit.collect import Progress, collect_target
from ipaudit.aws.session import caller_account
from ipaudit.aws.targets import resolve_accounts, resolve_regions
from ipaudit.report import Report
from ipaudit.settings import Settings

# Targets are I/O bound; a bounded pool keeps a large organization within API rate limits.
MAX_PARALLEL_TARGETS = 8


def new_run_id(now: datetime) -> str:
    return f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def run_audit(
    settings: Settings,
    session: boto3.Session,
    *,
    progress: Progress | None = None,
    run_id: str | None = None,
    now: datetime | None = None,
) -> Report:
    now = now or datetime.now(UTC)
    caller = caller_account(session)
    accounts = resolve_accounts(session, settings, caller)
    regions = resolve_regions(session, settings)
    targets = [(account, region) for account in accounts for region in regions]
    if progress is not None:
        progress(f"auditing {len(accounts)} account(s) x {len(regions)} region(s)")
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL_TARGETS, len(targets) or 1)) as pool:
        snapshots = list(
            pool.map(
                lambda target: collect_target(
                    session,
                    target[0],
                    target[1],
                    caller_account=caller,
                    settings=settings,
                    progress=progress,
                ),
                targets,
            )
        )
    return build_report(
        snapshots,
        settings,
        run_id=run_id or new_run_id(now),
        generated_at=now.isoformat(timespec="seconds").replace("+00:00", "Z"),
    )
