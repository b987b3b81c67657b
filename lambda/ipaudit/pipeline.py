"""What happens after an audit: forecast, store, alert lifecycle, notify.

The CLI (`ipaudit audit`, `ipaudit demo`) and the Lambda handler call `after_audit` with the
audit's report. Order matters: the run is stored before anything is posted, so a notification
failure never loses findings, and a Slack failure never keeps SNS from publishing.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from ipaudit.alerts.lifecycle import AlertChange, AlertState, audible, plan, stateless, why_kept
from ipaudit.alerts.mutes import Mute, apply_mutes
from ipaudit.analysis.report_builder import with_recommendation
from ipaudit.audit.bounded import DeadlineExceeded, call_by, leaving, remaining
from ipaudit.aws.error_line import one_line
from ipaudit.aws.session import make_client
from ipaudit.forecast.forecast_findings import KIND as FORECAST_KIND
from ipaudit.forecast.forecast_findings import forecast_findings
from ipaudit.forecast.nau_forecast import nau_forecast_findings
from ipaudit.notify.destinations import (
    SLACK_OFF,
    Destination,
    SecurityHubDestination,
    Sent,
    SlackDestination,
    SnsDestination,
)
from ipaudit.notify.sns import PUBLISHED_CHANGES, SnsMessage, build_messages
from ipaudit.report import SEVERITY_RANK, ClusterReport, Finding, Report
from ipaudit.report_codec import encode
from ipaudit.settings import Settings
from ipaudit.store.alert_state import commit, load_states
from ipaudit.store.deliveries import (
    Claimed,
    Delivery,
    Held,
    claim,
    delivered,
    put_items,
    release,
)
from ipaudit.store.deliveries import Destination as DestinationName
from ipaudit.store.history import ClusterHistory, load_histories, record_run
from ipaudit.store.mute_items import load_mutes
from ipaudit.store.runs import store_run
from ipaudit.timestamps import key_time
from ipaudit.words import plural

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = ["SLACK_OFF", "AfterAudit", "after_audit"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AfterAudit:
    report: Report  # the audit's report plus the forecast findings
    stored: bool  # the run is in the table (written now or by an earlier attempt)
    storage_error: str | None = None  # the table failed; what was found is still reported
    changes: Sequence[AlertChange] = ()  # what on-call hears about (would hear, on a dry run)
    invocation: str = ""  # this call among the calls of the same run id
    # Everything this invocation sent (would send, on a dry run), per destination in commit
    # order: this run's changes and what earlier runs (or invocations) could not deliver.
    sending: Sequence[Delivery] = ()
    delivered: Sequence[Delivery] = ()  # what the destinations accepted of `sending`
    held: Sequence[Held] = ()  # pending announcements a live other run holds: not sent here
    # Open alerts absent from this run that it could not evaluate: kept open, with why.
    kept: Sequence[tuple[Finding, str]] = ()
    slack_payload: dict[str, Any] | None = None
    slack_posted: bool = False
    slack_changes: int = 0  # changes the accepted Slack post carried (late ones included)
    slack_error: str | None = None
    sns_messages: Sequence[SnsMessage] = ()
    sns_published: int = 0
    sns_error: str | None = None
    security_hub_imported: int = 0
    security_hub_errors: Sequence[str] = ()
    dry_run: bool = False
    elapsed_seconds: float | None = None  # the whole run's, audit included (set by the caller)
    deadline_seconds: float | None = None  # the whole run's deadline, when it had one

    @property
    def late(self) -> tuple[Delivery, ...]:
        """Announcements another invocation committed that this one (re)sent."""
        return tuple(d for d in self.sending if d.late(self.invocation))

    @property
    def late_delivered(self) -> tuple[Delivery, ...]:
        """Of those, what the destinations accepted."""
        return tuple(d for d in self.delivered if d.late(self.invocation))

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
            "late_delivered": len(self.late_delivered),
            "slack_changes": self.slack_changes,
            "held_deliveries": len(self.held),
            "held_until": None if self.held_until is None else key_time(self.held_until),
            "kept_open": len(self.kept),
            "elapsed_seconds": self.elapsed_seconds,
            "deadline_seconds": self.deadline_seconds,
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
            f"{plural(len(self.held), 'pending announcement')} not sent: run {runs} holds them "
            "until "
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
    invocation: str | None = None,
    deadline: float | None = None,
) -> AfterAudit:
    """Forecast, store (with IPAUDIT_TABLE), run the alert lifecycle and notify.

    `notify=False` stores only: alert state stays as last announced, so nothing is lost for
    the next notifying run. `dry_run=True` stores the run but neither changes alert state nor
    posts; it returns exactly what would have been posted, whether or not a destination is set.
    `invocation` names this call among the calls of the same run id (a duplicated or retried
    Lambda invocation shares its run id); by default a fresh one. `deadline` (time.monotonic())
    bounds every call it makes, the table's, Slack's (its body included) and SNS's: the table
    gets all but `NOTIFY_SHARE` of the time left, the destinations the rest.
    """
    now = now or datetime.now(UTC)
    run = _Run(
        settings=settings,
        session=session,
        dynamodb=make_client(session, "dynamodb") if settings.table else None,
        table=settings.table or "",
        invocation=invocation or f"{report.run_id}@{uuid.uuid4().hex[:12]}",
        now=now,
        end=deadline,
        storing_by=leaving(deadline, NOTIFY_SHARE, NOTIFY_RESERVE_MAX_SECONDS),
    )
    report, storage_error = run.forecast_and_mute(report)
    stored, storage_error = run.store(report, storage_error)
    outcome = AfterAudit(
        report=report,
        stored=stored,
        storage_error=storage_error,
        invocation=run.invocation,
        dry_run=dry_run,
    )
    if not notify:
        return outcome
    if run.dynamodb is None or dry_run:
        outcome = run.without_memory(outcome)
        if dry_run:
            return outcome
    elif storage_error is None:  # else what changed is left to a run that can record it
        outcome = run.commit_changes(outcome)
        if note := outcome.held_note():
            logger.info("%s", note)
        outcome = run.deliver(outcome)
    if settings.security_hub:
        outcome = run.to_security_hub(outcome)
    return outcome


@dataclass
class _Run:
    """One call of `after_audit`, phase by phase."""

    settings: Settings
    session: boto3.Session
    dynamodb: DynamoDBClient | None
    table: str
    invocation: str
    now: datetime
    end: float | None = None  # the run's deadline: nothing here waits past it
    storing_by: float | None = None  # the table's share of it; the rest is the destinations'
    histories: dict[str, ClusterHistory] = field(default_factory=dict)

    def forecast_and_mute(self, report: Report) -> tuple[Report, str | None]:
        """The report with its clusters sized to their recent peak, the forecast findings
        added and the mutes applied; a table that cannot be read costs the history and the
        stored mutes, never the report."""
        histories = self.histories
        storage_error: str | None = None
        stored_mutes: list[Mute] = []
        dynamodb = self.dynamodb
        if dynamodb is not None:
            try:
                read, stored_mutes = call_by(
                    lambda: (
                        load_histories(
                            dynamodb,
                            self.table,
                            report.clusters,
                            now=self.now,
                            run_id=report.run_id,
                        ),
                        load_mutes(dynamodb, self.table),
                    ),
                    self.storing_by,
                )
                histories |= read
            except _STORAGE_FAILURES as error:
                storage_error = _storage_failed("reading history and mutes", error)
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
            *forecast_findings(report, past, self.now),
            *nau_forecast_findings(report, past, self.now),
        ]
        findings.sort(key=lambda f: (-SEVERITY_RANK[f.severity], f.id))
        report = replace(report, findings=findings)
        return apply_mutes(report, [*self.settings.mutes, *stored_mutes], self.now), storage_error

    def store(self, report: Report, storage_error: str | None) -> tuple[bool, str | None]:
        if self.dynamodb is None or storage_error is not None:
            return False, storage_error
        dynamodb = self.dynamodb

        def store() -> None:
            if not store_run(dynamodb, self.table, report):
                logger.info("run %s was already stored by an earlier attempt", report.run_id)
            record_run(dynamodb, self.table, report, self.histories)

        try:
            call_by(store, self.storing_by)
        except _STORAGE_FAILURES as error:
            return False, _storage_failed("storing the run", error)
        return True, None

    def destinations(self, outcome: AfterAudit) -> list[Destination]:
        """The outbox destinations the settings name, Slack first."""
        result: list[Destination] = []
        if self.settings.slack_webhook_url or self.settings.slack_secret_arn:
            result.append(
                SlackDestination(
                    outcome.report, self.settings, self.session, self.invocation, deadline=self.end
                )
            )
        if self.settings.sns_topic_arn:
            result.append(
                SnsDestination(
                    self.session, self.settings.sns_topic_arn, self.invocation, deadline=self.end
                )
            )
        return result

    def without_memory(self, outcome: AfterAudit) -> AfterAudit:
        """No table (every alerting finding is new) or a dry run (what would be sent, to both
        Slack and SNS whether or not they are set): nothing is committed."""
        report = outcome.report
        dynamodb = self.dynamodb
        if dynamodb is None:
            changes = stateless(report)
        else:
            try:
                states = call_by(lambda: load_states(dynamodb, self.table), self.storing_by)
            except _STORAGE_FAILURES as error:
                line = _storage_failed("reading alert state", error)
                return replace(outcome, storage_error=outcome.storage_error or line)
            transitions = plan(
                report, states, now=self.now, renotify_hours=self.settings.renotify_hours
            )
            changes = audible([t.alert for t in transitions])
            outcome = _with_kept(outcome, states)
        names: list[DestinationName] = ["slack", "sns"]
        if not outcome.dry_run:
            names = [d.name for d in self.destinations(outcome)]
        sending = _deliveries(names, changes, report, self.now, self.invocation)
        outcome = self.sends(replace(outcome, changes=tuple(changes)), sending)
        return outcome if outcome.dry_run else self.deliver(outcome)

    def commit_changes(self, outcome: AfterAudit) -> AfterAudit:
        """Commit each transition with its pending deliveries (one transaction: only the
        invocation whose conditional write wins announces it), then take what is pending.

        If the table fails midway, what this invocation committed and claimed is released at
        once: it sends nothing now, and the next run need not wait for the lease."""
        dynamodb = self.dynamodb
        assert dynamodb is not None
        report = outcome.report
        names = [d.name for d in self.destinations(outcome)]
        changes: list[AlertChange] = []
        committed: list[Delivery] = []
        kept: list[AfterAudit] = []

        def record() -> Claimed:
            states = load_states(dynamodb, self.table)
            transitions = plan(
                report, states, now=self.now, renotify_hours=self.settings.renotify_hours
            )
            kept.append(_with_kept(outcome, states))
            for transition in transitions:
                # A muted finding's transition is recorded, never sent.
                heard = audible([transition.alert])
                pending = _deliveries(
                    names, heard, report, self.now, self.invocation, transition.state.version
                )
                if commit(
                    dynamodb, self.table, transition, put_items(self.table, pending, self.now)
                ):
                    changes.extend(heard)
                    committed.extend(pending)
            return claim(
                dynamodb,
                self.table,
                names,
                run_id=report.run_id,
                invocation=self.invocation,
                now=self.now,
            )

        try:
            claimed = call_by(record, self.storing_by)
        except DeadlineExceeded as error:
            # The table may still be committing on the abandoned thread: what it commits stays
            # claimed by this invocation until the lease ends, then a run sends it, late.
            line = _storage_failed("recording alert changes", error)
            return replace(kept[0] if kept else outcome, storage_error=line, changes=tuple(changes))
        except (ClientError, BotoCoreError) as error:
            outcome = kept[0] if kept else outcome
            line = _storage_failed("recording alert changes", error)
            unreleased = release(
                dynamodb,
                self.table,
                committed,
                invocation=self.invocation,
                error=line,
                now=self.now,
            )
            if unreleased.deliveries:
                logger.error(
                    "%s could not be released: the first run after their lease sends them",
                    plural(len(unreleased.deliveries), "committed announcement"),
                )
            return replace(outcome, storage_error=line, changes=tuple(changes))
        outcome = replace(kept[0], changes=tuple(changes), held=tuple(claimed.held))
        return self.sends(outcome, claimed.sending)

    def sends(self, outcome: AfterAudit, sending: Sequence[Delivery]) -> AfterAudit:
        """The outcome with what this invocation sends, and what each destination gets."""
        slack_sending = [d for d in sending if d.destination == "slack"]
        sns = SnsDestination(self.session, self.settings.sns_topic_arn or "", self.invocation)
        slack = SlackDestination(outcome.report, self.settings, self.session, self.invocation)
        return replace(
            outcome,
            invocation=self.invocation,
            sending=tuple(sending),
            slack_payload=slack.payload(slack_sending) if slack_sending else None,
            sns_messages=tuple(sns.message(d) for d in sending if d.destination == "sns"),
        )

    def deliver(self, outcome: AfterAudit) -> AfterAudit:
        """Each destination in turn, its deliveries in commit order; what it accepts is marked
        at once, batch by batch, what it refuses released. A failed mark does not stop the
        others; those still unmarked are tried once more at the end."""
        unmarked: list[Delivery] = []

        def marker(taken: list[Delivery]) -> Callable[[Sequence[Delivery]], None]:
            """Marks what a destination accepted at once, and notes it in `taken`."""

            def mark(accepted: Sequence[Delivery]) -> None:
                taken.extend(accepted)
                if self.dynamodb is not None and accepted:
                    unmarked.extend(delivered(self.dynamodb, self.table, accepted).deliveries)

            return mark

        storage_error = outcome.storage_error
        results: dict[str, Sent] = {}
        destinations = [
            (destination, mine)
            for destination in self.destinations(outcome)
            if (mine := [d for d in outcome.sending if d.destination == destination.name])
        ]
        for index, (destination, mine) in enumerate(destinations):
            left = remaining(self.end)
            if left == 0:
                # Not tried: they stay claimed until the lease ends, then a run sends them.
                not_tried = f"{destination.name}: not tried, the run's deadline had passed"
                results[destination.name] = Sent(errors=(not_tried,), settled=False)
                continue
            taken: list[Delivery] = []
            try:
                # A fair share of what is left: a hung Slack never keeps SNS from its turn.
                share = (
                    None if left is None else time.monotonic() + left / (len(destinations) - index)
                )
                sent = call_by(partial(destination.send, mine, marker(taken)), share)
            except DeadlineExceeded:
                # What it did not confirm may have arrived: neither marked nor released, it is
                # sent again (late) after the lease, the documented duplicate window.
                sent = Sent(tuple(taken), (f"{destination.name}: {OUT_OF_TIME}",), settled=False)
            results[destination.name] = sent
            if sent.settled:
                storage_error = storage_error or self.release_refused(mine, sent)
        dynamodb = self.dynamodb
        if unmarked and dynamodb is not None:
            try:
                again = call_by(lambda: delivered(dynamodb, self.table, unmarked), self.end)
                failure: Exception | None = again.error
            except DeadlineExceeded as error:
                failure = error
            if failure is not None:
                storage_error = storage_error or _storage_failed(
                    f"marking {plural(len(unmarked), 'delivered announcement')} as sent (they "
                    "may be sent once more after their lease)",
                    failure,
                )
        slack_sent = results.get("slack", Sent())
        sns_sent = results.get("sns", Sent())
        return replace(
            outcome,
            storage_error=storage_error,
            slack_posted=bool(slack_sent.accepted),
            slack_changes=len(slack_sent.accepted),
            slack_error=slack_sent.error,
            sns_published=sns_sent.count,
            sns_error=sns_sent.error,
            delivered=tuple(d for sent in results.values() for d in sent.accepted),
        )

    def release_refused(self, sending: Sequence[Delivery], sent: Sent) -> str | None:
        """What a destination did not accept goes back to the table at once, with why."""
        taken = {d.sk for d in sent.accepted}
        refused = [d for d in sending if d.sk not in taken]
        if self.dynamodb is None or not refused:
            return None
        why = sent.error or sent.reason or "the destination did not accept it"
        failed = release(
            self.dynamodb, self.table, refused, invocation=self.invocation, error=why, now=self.now
        )
        if failed.error is None:
            return None
        return _storage_failed("releasing undelivered announcements", failed.error)

    def to_security_hub(self, outcome: AfterAudit) -> AfterAudit:
        first_seen: dict[str, datetime] = {}
        storage_error = outcome.storage_error
        if self.dynamodb is not None:
            dynamodb = self.dynamodb
            try:
                states = call_by(lambda: load_states(dynamodb, self.table), self.end)
                first_seen = {finding_id: s.opened_at for finding_id, s in states.items()}
            except _STORAGE_FAILURES as error:
                # CreatedAt falls back to now; the findings are still imported.
                storage_error = storage_error or _storage_failed("reading alert state", error)
        hub = SecurityHubDestination(
            outcome.report, self.settings, self.session, self.now, first_seen
        )
        changes = _deliveries(
            ["securityhub"], outcome.changes, outcome.report, self.now, self.invocation
        )
        try:
            sent = call_by(lambda: hub.send(changes, lambda accepted: None), self.end)
        except DeadlineExceeded:
            sent = Sent(errors=(f"Security Hub: {OUT_OF_TIME}",))
        return replace(
            outcome,
            storage_error=storage_error,
            security_hub_imported=sent.count,
            security_hub_errors=tuple(sent.errors),
        )


def _with_kept(outcome: AfterAudit, states: dict[str, AlertState]) -> AfterAudit:
    kept = why_kept(outcome.report, states)
    for finding_id, why in kept.items():
        logger.info("alert %s kept open, not evaluated this run: %s", finding_id, why)
    return replace(outcome, kept=tuple((states[i].finding, why) for i, why in kept.items()))


def _deliveries(
    destinations: Sequence[DestinationName],
    changes: Sequence[AlertChange],
    report: Report,
    now: datetime,
    invocation: str,
    version: int = 0,
) -> list[Delivery]:
    """One delivery per change and destination that carries it (SNS: changes, not reminders)."""
    result = []
    for destination in destinations:
        for change in changes:
            message = None
            if destination == "sns":
                if change.change not in PUBLISHED_CHANGES:
                    continue
                message = encode(build_messages([change], report)[0])
            result.append(
                Delivery(destination, change, now, report.run_id, message, version, invocation)
            )
    return result


_STORAGE_FAILURES = (ClientError, BotoCoreError, DeadlineExceeded)
OUT_OF_TIME = "did not finish by the run's deadline"
# Of the time after the audit, what the table may not take from the destinations: storing a
# large run is many writes, a post and a few PublishBatch calls are few.
NOTIFY_SHARE = 0.3
NOTIFY_RESERVE_MAX_SECONDS = 30.0


def _storage_failed(doing: str, error: Exception) -> str:
    if isinstance(error, DeadlineExceeded):
        line = f"DynamoDB {OUT_OF_TIME} {doing}"
    else:
        line = f"DynamoDB failed {doing}: {one_line(error)}"
    logger.error("%s", line)
    return line


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
