"""Security Hub as a destination (IPAUDIT_SECURITY_HUB=true): every alerting finding imported
with BatchImportFindings into its own account and region, muted ones suppressed, resolved ones
archived. A target that fails is reported and the others still import."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from ipaudit.alerts.lifecycle import alerting
from ipaudit.alerts.mutes import iso
from ipaudit.aws.error_line import one_line
from ipaudit.aws.session import TargetError, caller_account, make_client, target_session
from ipaudit.render.asff import State, batches, group_by_target, to_asff
from ipaudit.report import Finding, Report
from ipaudit.settings import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Imported:
    count: int
    errors: tuple[str, ...] = ()


def import_findings(
    report: Report,
    resolved: Sequence[Finding],
    settings: Settings,
    session: boto3.Session,
    *,
    now: datetime,
    first_seen: Mapping[str, datetime] | None = None,
) -> Imported:
    """Import the report's WARNING and CRITICAL findings (muted included) and archive
    `resolved`. `first_seen` (finding id -> when its alert opened) keeps CreatedAt stable."""
    current = alerting(report.findings)
    states: dict[str, tuple[Finding, State]] = {
        finding_id: (finding, "muted" if finding.muted else "active")
        for finding_id, finding in current.items()
    }
    for finding in resolved:
        states.setdefault(finding.id, (finding, "resolved"))
    if not states:
        return Imported(0)
    clusters = {(c.account_id, c.region, c.name): c for c in report.clusters}
    caller = caller_account(session)
    count, errors = 0, []
    for (account, region), findings in sorted(
        group_by_target(f for f, _ in states.values()).items()
    ):
        documents = [
            to_asff(
                finding,
                states[finding.id][1],
                created_at=iso((first_seen or {}).get(finding.id, now)),
                updated_at=iso(now),
                cluster=clusters.get((finding.account_id, finding.region, finding.cluster or "")),
            )
            for finding in findings
        ]
        try:
            target = target_session(
                session,
                account,
                caller_account=caller,
                role_name=settings.role_name,
                external_id=settings.external_id,
                region=region,
            )
            client = make_client(target, "securityhub", region_name=region)
            for batch in batches(documents):
                response: dict[str, Any] = client.batch_import_findings(Findings=batch)
                count += response["SuccessCount"]
                errors += [
                    f"{account}/{region}: {failed['Id']}: {failed['ErrorCode']}: "
                    f"{failed.get('ErrorMessage', '')}"
                    for failed in response.get("FailedFindings", [])
                ]
        except (TargetError, ClientError, BotoCoreError) as error:
            errors.append(f"{account}/{region}: {one_line(error)}")
    for problem in errors:
        logger.error("Security Hub import failed: %s", problem)
    return Imported(count, tuple(errors))
