"""What happens after an audit: forecast, store, alert lifecycle, notify.

The CLI (`ipaudit audit`, `ipaudit demo`) and the Lambda handler call `after_audit` with the
audit's report. Order matters: the run is stored before anything is posted, so a notification
failure never loses findings, and a Slack failure never keeps SNS from publishing.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from ipaudit.alerts.lifecycle import AlertChange, audible, plan, stateless
from ipaudit.alerts.mutes import apply_mutes
from ipaudit.analysis.report_builder import with_recommendation
from ipaudit.aws.error_line import one_line
from ipaudit.aws.session import make_client
from ipaudit.forecast.forecast_findings import KIND as FORECAST_KIND
from ipaudit.forecast.forecast_findings import forecast_findings
from ipaudit.forecast.nau_forecast import nau_forecast_findings
from ipaudit.notify import slack
from ipaudit.notify.security_hub import import_findings
from ipaudit.notify.slack_blocks import build_payload
from ipaudit.notify.sns import PUBLISHED_CHANGES, SnsMessage, build_messages, late, publish
from ipaudit.report import SEVERITY_RANK, ClusterReport, Report
from ipaudit.settings import Settings
from ipaudit.store.alert_state import commit, load_states
from ipaudit.store.codec import key_time
from ipaudit.store.deliveries import (
    Delivery,
    Destination,
    Held,
    claim,
    delivered,
    put_items,
    release,
)
from ipaudit.store.history import ClusterHistory, load_histories, record_run
from ipaudit.store.mute_items import load_mutes
from ipaudit.store.records import dump
from ipaudit.store.runs import store_run

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

logger = logging.getLogger(__name__)

# Why a run released Slack announcements it had no URL to post to (the secret's placeholder).
SLACK_OFF = "Slack is off: the secret holds no webhook URL yet"


@dataclass(frozen=True)
class AfterAudit:
    report: Report  # the audit's report plus the forecast findings
    stored: bool  # the run is in the table (written now or by an earlier attempt)
    storage_error: str | None = None  # the table failed; what was found is still reported
    changes: Sequence[AlertChange] = ()  # what on-call hears about (would hear, on a dry run)
    late: Sequence[Delivery] = ()  # earlier runs' announcements this run (re)sent
    held: Sequence[Held] = ()  # pending announcements a live other run holds: not sent here
    slack_payload: dict[str, Any] | None = None
    slack_posted: bool = False
    slack_error: str | None = None
    sns_messages: Sequence[SnsMessage] = ()
    sns_published: int = 0
    sns_error: str | None = None
    security_hub_imported: int = 0
    security_hub_errors: Sequence[str] = ()
    dry_run: bool = False

    def summary(self) -> dict[str, Any]:
        """Short and JSON-able, for the Lambda's return value and logs; holds no secret."""
        severities = {name: 0 for name in sorted(SEVERITY_RANK, key=SEVERITY_RANK.__getitem__)}
        for finding in self.report.findings:
            severities[finding.severity] += 1
        changes = {"new": 0, "escalated": 0, "reminded": 0, "resolved": 0}
        for change in self.changes:
            changes[change.change] += 1
        return {
            "run_id": self.report.run_id,
            "clusters": len(self.report.clusters),
            "findings": severities,
            "forecast_findings": sum(f.kind == FORECAST_KIND for f in self.report.findings),
            "coverage_errors": sum(c.status == "error" for c in self.report.coverage),
            "stored": self.stored,
            "storage_error": self.storage_error,
            "dry_run": self.dry_run,
            "changes": changes,
            "slack_posted": self.slack_posted,
            "slack_error": self.slack_error,
            "sns_published": self.sns_published,
            "sns_error": self.sns_error,
            "security_hub_imported": self.security_hub_imported,
            "security_hub_errors": len(self.security_hub_errors),
            "late_deliveries": len(self.late),
            "held_deliveries": len(self.held),
            "held_until": None if self.held_until is None else key_time(self.held_until),
            "delivery_failed": self.delivery_failed,
        }

    @property
    def held_until(self) -> datetime | None:
        """When every claim another run holds has ended: what it has not delivered by then,
        a run after that sends."""
        return max((h.until for h in self.held), default=None)

    def held_note(self) -> str | None:
        """One line for people on why pending announcements were not sent by this run."""
        until = self.held_until
        if until is None:
            return None
        runs = ", ".join(sorted({h.run_id for h in self.held}))
        return (
            f"{len(self.held)} pending announcement(s) not sent: run {runs} holds them until "
            f"{key_time(until)} (it is sending them; if it dies, the first run after that "
            "time sends them)"
        )

    @property
    def delivery_failed(self) -> bool:
        """A destination did not accept everything: it stays pending for the next run."""
        return bool(self.slack_error or self.sns_error)


def after_audit(
    report: Report,
    settings: Settings,
    session: boto3.Session,
    *,
    notify: bool = True,
    dry_run: bool = False,
    now: datetime | None = None,
) -> AfterAudit:
    """Forecast, store (with IPAUDIT_TABLE), run the alert lifecycle and notify.

    `notify=False` stores only: alert state stays as last announced, so nothing is lost for
    the next notifying run. `dry_run=True` stores the run but neither changes alert state nor
    posts; it returns exactly what would have been posted, whether or not a destination is set.
    """
    now = now or datetime.now(UTC)
    dynamodb = make_client(session, "dynamodb") if settings.table else None
    table = settings.table or ""

    histories: dict[str, ClusterHistory] = {}
    storage_error: str | None = None
    try:
        if dynamodb is not None:
            histories = load_histories(
                dynamodb, table, report.clusters, now=now, run_id=report.run_id
            )
    except (ClientError, BotoCoreError) as error:
        storage_error = _storage_failed("reading history", error)
    report = replace(
        report, clusters=[_sized_to_peak(c, histories.get(c.key)) for c in report.clusters]
    )
    past = {
        (*_cluster_parts(key), subnet): points
        for key, history in histories.items()
        for subnet, points in history.subnet_points().items()
    }
    findings = [
        *report.findings,
        *forecast_findings(report, past, now),
        *nau_forecast_findings(report, past, now),
    ]
    findings.sort(key=lambda f: (-SEVERITY_RANK[f.severity], f.id))
    report = replace(report, findings=findings)
    mutes = [*settings.mutes]
    if dynamodb is not None and settings.table:
        mutes += load_mutes(dynamodb, settings.table)
    report = apply_mutes(report, mutes, now)

    stored = False
    if dynamodb is not None and storage_error is None:
        try:
            if not store_run(dynamodb, table, report):
                logger.info("run %s was already stored by an earlier attempt", report.run_id)
            record_run(dynamodb, table, report, histories)
            stored = True
        except (ClientError, BotoCoreError) as error:
            storage_error = _storage_failed("storing the run", error)

    if not notify:
        return AfterAudit(
            report=report, stored=stored, storage_error=storage_error, dry_run=dry_run
        )

    destinations: list[Destination] = []
    if settings.slack_webhook_url or settings.slack_secret_arn:
        destinations.append("slack")
    if settings.sns_topic_arn:
        destinations.append("sns")
    changes: list[AlertChange] = []
    sending: list[Delivery] = []
    held: list[Held] = []
    if dynamodb is None:
        changes = stateless(report)
        sending = _deliveries(["slack", "sns"] if dry_run else destinations, changes, report, now)
    elif dry_run:
        states = load_states(dynamodb, table)
        changes = audible(
            [t.alert for t in plan(report, states, now=now, renotify_hours=settings.renotify_hours)]
        )
        sending = _deliveries(["slack", "sns"], changes, report, now)
    elif storage_error is None:
        # A transition, and its announcement pending for each destination, is one transaction;
        # only the run whose conditional write wins it announces it.
        try:
            states = load_states(dynamodb, table)
            for transition in plan(report, states, now=now, renotify_hours=settings.renotify_hours):
                # A muted finding's transition is recorded, never sent.
                heard = audible([transition.alert])
                pending = _deliveries(destinations, heard, report, now)
                if commit(dynamodb, table, transition, put_items(table, pending, now)):
                    changes += heard
            # This run's announcements and those earlier runs could not deliver.
            claimed = claim(dynamodb, table, destinations, run_id=report.run_id, now=now)
            sending, held = claimed.sending, claimed.held
        except (ClientError, BotoCoreError) as error:
            storage_error = _storage_failed("recording alert changes", error)

    slack_sending = [d for d in sending if d.destination == "slack"]
    sns_sending = [d for d in sending if d.destination == "sns"]
    slack_payload = None
    if slack_sending:
        slack_payload = build_payload([_as_sent(d, report.run_id) for d in slack_sending], report)
    sns_messages = [_sns_sent(d, report.run_id) for d in sns_sending]
    outcome = AfterAudit(
        report=report,
        stored=stored,
        storage_error=storage_error,
        changes=tuple(changes),
        late=tuple(d for d in sending if d.late(report.run_id)),
        held=tuple(held),
        slack_payload=slack_payload,
        sns_messages=tuple(sns_messages),
        dry_run=dry_run,
    )
    if dry_run:
        return outcome
    if note := outcome.held_note():
        logger.info("%s", note)

    if slack_payload is not None:
        outcome = replace(outcome, **_post_slack(slack_payload, settings, session))
        accepted = range(len(slack_sending) if outcome.slack_posted else 0)
        why = outcome.slack_error or SLACK_OFF
        outcome = _settle(outcome, dynamodb, table, slack_sending, accepted, why, now)
    if sns_messages and settings.sns_topic_arn:
        result = publish(make_client(session, "sns"), settings.sns_topic_arn, sns_messages)
        if result.error:
            logger.error("SNS publish failed: %s", result.error)
        outcome = replace(outcome, sns_published=len(result.accepted), sns_error=result.error)
        why = result.error or "SNS did not accept it"
        outcome = _settle(outcome, dynamodb, table, sns_sending, result.accepted, why, now)
    if settings.security_hub:
        outcome = replace(outcome, **_to_security_hub(report, changes, settings, session, now))
    return outcome


def _to_security_hub(
    report: Report,
    changes: Sequence[AlertChange],
    settings: Settings,
    session: boto3.Session,
    now: datetime,
) -> dict[str, Any]:
    first_seen = {}
    if settings.table:
        states = load_states(make_client(session, "dynamodb"), settings.table)
        first_seen = {finding_id: state.opened_at for finding_id, state in states.items()}
    resolved = [change.finding for change in changes if change.change == "resolved"]
    imported = import_findings(report, resolved, settings, session, now=now, first_seen=first_seen)
    return {"security_hub_imported": imported.count, "security_hub_errors": imported.errors}


def _deliveries(
    destinations: Sequence[Destination],
    changes: Sequence[AlertChange],
    report: Report,
    now: datetime,
) -> list[Delivery]:
    """One delivery per change and destination that carries it (SNS: changes, not reminders)."""
    result = []
    for destination in destinations:
        for change in changes:
            if destination == "slack":
                result.append(Delivery("slack", change, now, report.run_id))
            elif change.change in PUBLISHED_CHANGES:
                message = dump(build_messages([change], report)[0])
                result.append(Delivery("sns", change, now, report.run_id, message))
    return result


def _settle(
    outcome: AfterAudit,
    dynamodb: DynamoDBClient | None,
    table: str,
    sent: Sequence[Delivery],
    accepted: Collection[int],
    why: str,
    now: datetime,
) -> AfterAudit:
    """After one destination's attempt (indexes into `sent`): what it accepted is delivered,
    the rest released with `why` so the next run need not wait for this run's lease. If marking
    fails, an accepted announcement may be sent once more; if releasing fails, the rest waits
    for the lease."""
    if dynamodb is None or not sent:
        return outcome
    refused = [d for i, d in enumerate(sent) if i not in accepted]
    doing = "marking deliveries as sent"
    try:
        delivered(dynamodb, table, [d for i, d in enumerate(sent) if i in accepted])
        doing = "releasing undelivered announcements"
        release(dynamodb, table, refused, run_id=outcome.report.run_id, error=why, now=now)
    except (ClientError, BotoCoreError) as error:
        return replace(outcome, storage_error=_storage_failed(doing, error))
    return outcome


def _storage_failed(doing: str, error: ClientError | BotoCoreError) -> str:
    line = f"DynamoDB failed {doing}: {one_line(error)}"
    logger.error("%s", line)
    return line


def _as_sent(delivery: Delivery, run_id: str) -> AlertChange:
    if not delivery.late(run_id):
        return delivery.change
    return replace(delivery.change, late_since=key_time(delivery.at))


def _sns_sent(delivery: Delivery, run_id: str) -> SnsMessage:
    assert delivery.message is not None  # an SNS delivery always carries its message
    if delivery.late(run_id):
        return late(delivery.message, key_time(delivery.at))
    return SnsMessage(**delivery.message)


def _cluster_parts(key: str) -> tuple[str, str, str]:
    account, region, name = key.split("/", 2)
    return account, region, name


def _sized_to_peak(cluster: ClusterReport, history: ClusterHistory | None) -> ClusterReport:
    """Recommend again when the cluster ran more pods recently than now: the settings must
    absorb the observed peak, not only today's load."""
    peak = history.peak_pods() if history is not None else None
    if peak is None or cluster.pods is None or peak <= cluster.pods:
        return cluster
    return with_recommendation(cluster, peak_pods=peak)


def _post_slack(
    payload: dict[str, Any], settings: Settings, session: boto3.Session
) -> dict[str, Any]:
    try:
        url = slack.webhook_url(settings, session)
        if url is None:
            return {}
        slack.post(url, payload)
    except slack.SlackError as error:
        logger.error("Slack post failed: %s", error)
        return {"slack_error": str(error)}
    except Exception as error:
        # Nothing about Slack may block SNS, and an unknown error's text may quote the URL.
        logger.error("Slack post failed: %s", type(error).__name__)
        return {"slack_error": f"Slack post failed ({type(error).__name__})"}
    return {"slack_posted": True}
