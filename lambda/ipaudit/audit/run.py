"""One audit of every target, in parallel, into one report.

The steps are separate so the Step Functions fan-out (`ipaudit.fanout`) runs the very same code:
`audit_targets` lists the targets, `collect_targets` audits a batch of them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import boto3

from ipaudit.analysis.report_builder import build_report
from ipaudit.audit.bounded import DeadlineExceeded, call_by, map_by
from ipaudit.audit.collect_target import Progress, collect_target
from ipaudit.aws.session import caller_account
from ipaudit.aws.targets import resolve_accounts, resolve_regions
from ipaudit.errors import InputError
from ipaudit.report import Report
from ipaudit.settings import Settings
from ipaudit.snapshot import TargetSnapshot
from ipaudit.words import plural

# Targets are I/O bound; a bounded pool keeps a large organization within API rate limits.
MAX_PARALLEL_TARGETS = 8
DEADLINE_ERROR = "not audited: deadline"

Target = tuple[str, str]  # (account id, region)


def new_run_id(now: datetime) -> str:
    return f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def scheduled_run_id(scheduled: datetime) -> str:
    """The one run id of a scheduled invocation: its retries and duplicates are the same run."""
    return f"{scheduled.astimezone(UTC):%Y%m%dT%H%M%SZ}-scheduled"


def report_time(now: datetime) -> str:
    """The report's `generated_at`: ISO 8601 in UTC, to the second, with a Z."""
    return now.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def audit_targets(settings: Settings, session: boto3.Session) -> tuple[str, list[Target]]:
    """The caller's account and every account x region the settings name, in a stable order."""
    caller = caller_account(session)
    accounts = resolve_accounts(session, settings, caller)
    regions = resolve_regions(session, settings)
    return caller, [(account, region) for account in accounts for region in regions]


def collect_targets(
    session: boto3.Session,
    targets: Sequence[Target],
    *,
    caller: str,
    settings: Settings,
    progress: Progress | None = None,
    deadline: float | None = None,
) -> list[TargetSnapshot]:
    """Collect every target; a target's failure is its snapshot's error, never an exception,
    and what is not collected by `deadline` (a `time.monotonic()` value) is a coverage error."""
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
        progress(f"deadline reached: {plural(late, 'target')} not audited")
    return snapshots


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
    try:
        # STS and Organizations drip like any API: the run's deadline bounds them too.
        caller, targets = call_by(lambda: audit_targets(settings, session), deadline)
    except DeadlineExceeded:
        raise InputError(
            "deadline: the audit's targets (STS GetCallerIdentity, Organizations ListAccounts) "
            "were not read in time"
        ) from None
    if progress is not None:
        accounts = len({account for account, _ in targets})
        regions = len({region for _, region in targets})
        progress(f"auditing {plural(accounts, 'account')} x {plural(regions, 'region')}")
    snapshots = collect_targets(
        session, targets, caller=caller, settings=settings, progress=progress, deadline=deadline
    )
    return build_report(
        snapshots, settings, run_id=run_id or new_run_id(now), generated_at=report_time(now)
    )
