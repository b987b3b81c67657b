"""Lambda entry points of the fan-out state machine's three steps (docs/deploy.md).

- `ipaudit.fanout.handler.list_targets_handler`: every account x region, written for the Map.
- `ipaudit.fanout.handler.audit_batch_handler`: one Map batch of targets, audited into S3.
- `ipaudit.fanout.handler.aggregate_handler`: the one report; forecast, store, alerts, notify.

Each step's input is what the state machine sends (steps.py names the fields); a bad setting or
input raises before anything is written, so the step fails and the failed-execution alarm fires.
"""

from __future__ import annotations

import os
import time
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from ipaudit import metrics as audit_metrics
from ipaudit import redact
from ipaudit.aws.session import make_client
from ipaudit.fanout import steps
from ipaudit.fanout.results_bucket import bucket_from_env
from ipaudit.handler import RETURN_MARGIN_SECONDS
from ipaudit.settings import Settings
from ipaudit.store.runs import check_table

redact.install()  # before any record: LOG_LEVEL=DEBUG must not log AssumeRole's answers
logger = Logger(service=audit_metrics.SERVICE)
metrics = Metrics(namespace=audit_metrics.NAMESPACE, service=audit_metrics.SERVICE)

# Kept back from a batch's Lambda time for analysing and writing its parts after the deadline.
WRITE_PARTS_MARGIN_SECONDS = 30.0


@logger.inject_lambda_context(log_event=False)
def list_targets_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = Settings.from_env(os.environ)
    bucket = bucket_from_env(os.environ)
    run = steps.execution_run(event)
    listed = steps.list_targets(settings, boto3.Session(), bucket=bucket, run=run)
    logger.info("targets listed", extra={"listed": listed})
    return listed


@logger.inject_lambda_context(log_event=False)
def audit_batch_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = Settings.from_env(os.environ)
    bucket = bucket_from_env(os.environ)
    run, targets = steps.batch_targets(event)
    summary = steps.audit_batch(
        settings,
        boto3.Session(),
        bucket=bucket,
        run=run,
        targets=targets,
        progress=logger.info,
        deadline=time.monotonic()
        + max(context.get_remaining_time_in_millis() / 1000 - WRITE_PARTS_MARGIN_SECONDS, 1.0),
    )
    logger.info("batch audited", extra={"summary": summary})
    return summary


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def aggregate_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = Settings.from_env(os.environ)
    bucket = bucket_from_env(os.environ)
    run = steps.execution_run(event)
    session = boto3.Session()
    if settings.table:  # a missing table fails the step before anything is written
        check_table(make_client(session, "dynamodb"), settings.table)
    left = context.get_remaining_time_in_millis() / 1000 - RETURN_MARGIN_SECONDS
    outcome = steps.aggregate(
        settings, session, bucket=bucket, run=run, deadline=time.monotonic() + max(left, 1.0)
    )
    audit_metrics.record(outcome.report, metrics)
    audit_metrics.record_delivery(outcome, metrics)
    summary: dict[str, Any] = outcome.summary()
    logger.info("audit finished", extra={"summary": summary})
    return summary
