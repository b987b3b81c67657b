"""One audit of every target, in parallel, into one report."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import boto3

from ipaudit.analysis.report_builder import build_report
from ipaudit.audit.bounded import map_by
from ipaudit.audit.collect import Progress, collect_target
from ipaudit.aws.session import caller_account
from ipaudit.aws.targets import resolve_accounts, resolve_regions
from ipaudit.report import Report
from ipaudit.settings import Settings
from ipaudit.snapshot import TargetSnapshot

# Targets are I/O bound; a bounded pool keeps a large organization within API rate limits.
MAX_PARALLEL_TARGETS = 8
DEADLINE_ERROR = "not audited: deadline"


def new_run_id(now: datetime) -> str:
    return f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def scheduled_run_id(scheduled: datetime) -> str:
    """The one run id of a scheduled invocation: its retries and duplicates are the same run."""
    return f"{scheduled.astimezone(UTC):%Y%m%dT%H%M%SZ}-scheduled"


def run_audit(
    settings: Settings,
    session: boto3.Session,
    *,
    progress: Progress | None = None,
    run_id: str | None = None,
    now: datetime | None = None,
    deadline: float | None = None,
) -> Report:
    """Audit every target; what is not collected by `deadline` (a `time.monotonic()` value)
    is a coverage error, and the report covers the rest."""
    now = now or datetime.now(UTC)
    caller = caller_account(session)
    accounts = resolve_accounts(session, settings, caller)
    regions = resolve_regions(session, settings)
    targets = [(account, region) for account in accounts for region in regions]
    if progress is not None:
        progress(f"auditing {len(accounts)} account(s) x {len(regions)} region(s)")
    collected = map_by(
        lambda target: collect_target(
            session,
            target[0],
            target[1],
            caller_account=caller,
            settings=settings,
            progress=progress,
            deadline=deadline,
        ),
        targets,
        workers=MAX_PARALLEL_TARGETS,
        deadline=deadline,
    )
    snapshots = [
        snapshot or TargetSnapshot(account, region, error=DEADLINE_ERROR)
        for (account, region), snapshot in zip(targets, collected, strict=True)
    ]
    if progress is not None and DEADLINE_ERROR in {s.error for s in snapshots}:
        late = sum(s.error == DEADLINE_ERROR for s in snapshots)
        progress(f"deadline reached: {late} target(s) not audited")
    return build_report(
        snapshots,
        settings,
        run_id=run_id or new_run_id(now),
        generated_at=now.isoformat(timespec="seconds").replace("+00:00", "Z"),
    )
