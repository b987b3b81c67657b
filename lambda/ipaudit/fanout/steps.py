"""The state machine's three steps: list the targets, audit a batch of them, aggregate.

Each step is the single-function audit cut at its natural seams: `audit_targets` lists, the
batches run `collect_targets` and `target_report` (the CLI's own collection and analysis), and
the aggregate runs `combine_reports` and `after_audit` (forecast, store, alerts, notification).
The run id is the execution's, so a redriven execution stores, alerts and notifies as the same
run; the alert state's versions keep it from announcing anything twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3

from ipaudit.analysis.report_builder import combine_reports, target_report
from ipaudit.audit.collect_target import Progress
from ipaudit.audit.run import Target, audit_targets, collect_targets, report_time
from ipaudit.aws.session import caller_account, make_client
from ipaudit.errors import InputError
from ipaudit.fanout import results_bucket
from ipaudit.pipeline import AfterAudit, after_audit
from ipaudit.report import Coverage, TargetReport
from ipaudit.settings import Settings
from ipaudit.timestamps import parse_time

# The coverage error of a target whose batch never wrote its part.
BATCH_FAILED = (
    "not audited: its batch failed in the fan-out's Map (the invocation failed or timed out; "
    "see the execution's failed items)"
)


class EventError(InputError):
    """A step's input is not what the state machine sends; one line naming the field."""


@dataclass(frozen=True)
class RunId:
    run_id: str
    generated_at: str


def execution_run(event: Mapping[str, Any]) -> RunId:
    """The run of the execution `{"execution": {"name", "started_at"}}` (the context object's
    Execution.Name and Execution.StartTime, which a redrive keeps)."""
    execution = event.get("execution")
    if not isinstance(execution, Mapping):
        raise EventError("event.execution: missing (expected {name, started_at})")
    name = execution.get("name")
    if not isinstance(name, str) or not name:
        raise EventError("event.execution.name: missing or empty")
    try:
        started = parse_time(str(execution.get("started_at")))
    except ValueError:
        raise EventError(
            f"event.execution.started_at: {execution.get('started_at')!r} is not an ISO 8601 time"
        ) from None
    return RunId(f"{started:%Y%m%dT%H%M%SZ}-{name}", report_time(started))


def list_targets(
    settings: Settings, session: boto3.Session, *, bucket: str, run: RunId
) -> dict[str, Any]:
    """Write the run's targets for the Map to read; the state the next steps need."""
    _, targets = audit_targets(settings, session)
    key = results_bucket.write_targets(make_client(session, "s3"), bucket, run.run_id, targets)
    return {
        "run_id": run.run_id,
        "generated_at": run.generated_at,
        "bucket": bucket,
        "targets_key": key,
        "targets": len(targets),
    }


def batch_targets(event: Mapping[str, Any]) -> tuple[RunId, list[Target]]:
    """The run and targets of one Map batch:
    `{"BatchInput": {"run_id", "generated_at"}, "Items": [{"account_id", "region"}, ...]}`."""
    batch_input = event.get("BatchInput") or {}
    run_id, generated_at = batch_input.get("run_id"), batch_input.get("generated_at")
    if not isinstance(run_id, str) or not run_id:
        raise EventError("event.BatchInput.run_id: missing")
    try:
        parse_time(str(generated_at))
    except ValueError:
        raise EventError(
            f"event.BatchInput.generated_at: {generated_at!r} is not an ISO 8601 time"
        ) from None
    items = event.get("Items")
    if not isinstance(items, list):
        raise EventError("event.Items: missing (expected the Map's batch of targets)")
    targets: list[Target] = []
    for index, item in enumerate(items):
        account, region = (item or {}).get("account_id"), (item or {}).get("region")
        if not isinstance(account, str) or not isinstance(region, str):
            raise EventError(f"event.Items[{index}]: expected {{account_id, region}}")
        targets.append((account, region))
    return RunId(run_id, str(generated_at)), targets


def audit_batch(
    settings: Settings,
    session: boto3.Session,
    *,
    bucket: str,
    run: RunId,
    targets: Sequence[Target],
    progress: Progress | None = None,
    deadline: float | None = None,
) -> dict[str, Any]:
    """Collect and analyse a batch of targets, each into its own part in S3. The analysis is
    at the run's time, as the single audit's is; a target not collected by `deadline` (a
    `time.monotonic()` value) is a coverage error in its part, like the single audit's."""
    snapshots = collect_targets(
        session,
        targets,
        caller=caller_account(session),
        settings=settings,
        progress=progress,
        deadline=deadline,
    )
    s3 = make_client(session, "s3")
    clusters = errors = 0
    for snapshot in snapshots:
        part = target_report(snapshot, settings, parse_time(run.generated_at))
        results_bucket.write_target_report(s3, bucket, run.run_id, part)
        clusters += len(part.clusters)
        errors += sum(entry.status == "error" for entry in part.coverage)
    return {
        "run_id": run.run_id,
        "targets": len(targets),
        "clusters": clusters,
        "coverage_errors": errors,
    }


def aggregate(
    settings: Settings,
    session: boto3.Session,
    *,
    bucket: str,
    run: RunId,
    now: datetime | None = None,
    deadline: float | None = None,
) -> AfterAudit:
    """The one report from every target's part, then exactly the single-function pipeline
    (the table, Slack and SNS bounded by `deadline`, a time.monotonic() value)."""
    s3 = make_client(session, "s3")
    targets = results_bucket.read_targets(s3, bucket, run.run_id)
    parts = results_bucket.read_target_reports(s3, bucket, run.run_id)
    gaps = [
        TargetReport(
            account, region, coverage=[Coverage(account, region, None, "error", BATCH_FAILED)]
        )
        for account, region in results_bucket.missing(targets, parts)
    ]
    wanted = set(targets)  # a part from outside this run's targets is not this run's
    report = combine_reports(
        [*(part for key, part in parts.items() if key in wanted), *gaps],
        run_id=run.run_id,
        generated_at=run.generated_at,
        settings=settings,
    )
    outcome = after_audit(report, settings, session, now=now, deadline=deadline)
    results_bucket.write_report(s3, bucket, outcome.report)
    return outcome
