"""Lambda entry points: thin wrappers that read settings, run the logic and summarize.

- `ipaudit.handler.audit_handler`: the scheduled audit (EventBridge, hourly by default).
- `ipaudit.handler.digest_handler`: the weekly summary e-mail.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from ipaudit import metrics as audit_metrics
from ipaudit.audit import run_audit
from ipaudit.digest import weekly_digest
from ipaudit.pipeline import after_audit
from ipaudit.settings import Settings

logger = Logger(service=audit_metrics.SERVICE)
metrics = Metrics(namespace=audit_metrics.NAMESPACE, service=audit_metrics.SERVICE)


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def audit_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # A bad setting raises here, before anything is written: the invocation fails and alarms.
    settings = Settings.from_env(os.environ)
    session = boto3.Session()
    report = run_audit(settings, session, progress=logger.info)
    outcome = after_audit(report, settings, session)
    audit_metrics.record(outcome.report, metrics)
    summary: dict[str, Any] = outcome.summary()
    logger.info("audit finished", extra={"summary": summary})
    return summary


@logger.inject_lambda_context(log_event=False)
def digest_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = Settings.from_env(os.environ)
    digest = weekly_digest(settings, boto3.Session(), send=True)
    logger.info("digest sent", extra={"subject": digest.subject})
    return {"subject": digest.subject, "recipients": len(settings.email_to)}
