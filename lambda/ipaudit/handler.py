"""Lambda entry points: thin wrappers that read settings, run the logic and summarize.

- `ipaudit.handler.audit_handler`: the scheduled audit (EventBridge, hourly by default).
- `ipaudit.handler.digest_handler`: the weekly summary e-mail.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from datetime import datetime
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from ipaudit import metrics as audit_metrics
from ipaudit import redact
from ipaudit.audit import run_audit
from ipaudit.audit.bounded import collection_deadline
from ipaudit.audit.run import scheduled_run_id
from ipaudit.aws.session import make_client
from ipaudit.digest import weekly_digest
from ipaudit.errors import InputError
from ipaudit.pipeline import after_audit
from ipaudit.settings import Settings
from ipaudit.store.runs import check_table
from ipaudit.timestamps import parse_time

redact.install()  # before any record: LOG_LEVEL=DEBUG must not log AssumeRole's answers
logger = Logger(service=audit_metrics.SERVICE)
metrics = Metrics(namespace=audit_metrics.NAMESPACE, service=audit_metrics.SERVICE)


# Kept back from the Lambda's remaining time for returning the summary and its log line.
RETURN_MARGIN_SECONDS = 5.0


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def audit_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # A bad setting raises here, before anything is written: the invocation fails and alarms.
    settings = Settings.from_env(os.environ)
    scheduled = scheduled_time(event)
    session = boto3.Session()
    if settings.table:
        check_table(make_client(session, "dynamodb"), settings.table)
    # One deadline for the whole run, the Lambda's own time its ceiling: collection stops early
    # enough to leave storing and notifying their share (audit/bounded.py), and after_audit
    # bounds the table, Slack and SNS by the same end.
    started = time.monotonic()
    left = context.get_remaining_time_in_millis() / 1000 - RETURN_MARGIN_SECONDS
    end = started + max(left, 1.0)
    report = run_audit(
        settings,
        session,
        progress=logger.info,
        # The schedule's time names the run: a retried or duplicated invocation is the same run.
        run_id=None if scheduled is None else scheduled_run_id(scheduled),
        now=scheduled,
        deadline=collection_deadline(end),
    )
    outcome = after_audit(report, settings, session, deadline=end)
    outcome = replace(
        outcome,
        elapsed_seconds=round(time.monotonic() - started, 1),
        deadline_seconds=round(end - started, 1),
    )
    audit_metrics.record(outcome.report, metrics)
    audit_metrics.record_delivery(outcome, metrics)
    summary: dict[str, Any] = outcome.summary()
    logger.info("audit finished", extra={"summary": summary})
    return summary


def scheduled_time(event: dict[str, Any]) -> datetime | None:
    """The schedule's `<aws.scheduler.scheduled-time>` from the target input, if given."""
    raw = event.get("scheduled_time") if isinstance(event, dict) else None
    if raw is None:
        return None
    try:
        return parse_time(str(raw))
    except ValueError:
        raise InputError(f"event: scheduled_time {raw!r} is not an ISO 8601 time") from None


@logger.inject_lambda_context(log_event=False)
def digest_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = Settings.from_env(os.environ)
    digest = weekly_digest(settings, boto3.Session(), send=True)
    logger.info("digest sent", extra={"subject": digest.subject})
    return {"subject": digest.subject, "recipients": len(settings.email_to)}
