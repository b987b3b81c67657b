"""The alert lifecycle as pure decisions: from this run's findings and the stored alert states
to the transitions to commit.

Per finding id: new -> notify; unchanged -> quiet until `renotify_hours` have passed, then one
reminder; escalated (WARNING -> CRITICAL, or a subnet's free addresses halved since the last
message) -> notify; resolved (absent from a complete audit of its scope) -> notify once. INFO
findings never alert. A finding this run could not evaluate (its scope not fully audited, or the
finding itself not computable, such as a scale ceiling whose instance types are unknown) keeps
its state: only an evaluation that finds it gone resolves it (`why_kept` says why).
Muted findings (alerts/mutes.py) are one rule apart: an open alert whose finding is muted moves
to `muted` silently, a muted finding raises nothing, and once its mute expires it alerts as new.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from ipaudit.analysis.findings import unevaluated
from ipaudit.report import SEVERITY_RANK, Coverage, Finding, Report, Severity

Change = Literal["new", "escalated", "reminded", "resolved", "muted"]
Status = Literal["open", "resolved", "muted"]
# Changes recorded in the alert state and its log but never sent to anyone.
SILENT_CHANGES: frozenset[str] = frozenset({"muted"})

# Kinds whose `value` is free addresses: a drop to this share of the last announced value is as
# urgent as a severity step, even when the severity stays the same.
FREE_ADDRESS_KINDS = frozenset({"subnet_headroom", "pod_pool_headroom"})
SHARP_DROP_SHARE = 0.5


@dataclass(frozen=True)
class AlertState:
    finding: Finding  # as last seen
    status: Status
    opened_at: datetime
    notified_at: datetime  # the last message about it, whatever the change
    notified_severity: Severity
    notified_value: float | None
    run_id: str  # the run that last changed this state
    version: int  # optimistic lock: every committed transition increments it


@dataclass(frozen=True)
class AlertChange:
    change: Change
    finding: Finding
    previous_severity: Severity | None = None
    previous_value: float | None = None
    # Set when a later run delivers an announcement its own run could not: when it was found.
    late_since: str | None = None


@dataclass(frozen=True)
class AlertEvent:
    """A message that went out, as the history keeps it (the digest counts these)."""

    at: datetime
    change: Change
    finding: Finding
    run_id: str


@dataclass(frozen=True)
class Transition:
    """A state to write only if the stored one still has `expected_version` (None: absent)."""

    alert: AlertChange
    state: AlertState
    expected_version: int | None


def alerting(findings: Iterable[Finding]) -> dict[str, Finding]:
    """The findings on-call hears about, by id (the first one wins on a duplicate id)."""
    result: dict[str, Finding] = {}
    for finding in findings:
        if SEVERITY_RANK[finding.severity] >= SEVERITY_RANK["WARNING"]:
            result.setdefault(finding.id, finding)
    return result


def plan(
    report: Report,
    states: Mapping[str, AlertState],
    *,
    now: datetime,
    renotify_hours: float,
) -> list[Transition]:
    current = alerting(f for f in report.findings if not f.muted)
    transitions = _silenced(report, states, now)
    for finding_id, finding in current.items():
        state = states.get(finding_id)
        if state is not None and state.run_id == report.run_id:
            continue  # an earlier attempt of this very run already handled it
        transition = _for_present(finding, state, report.run_id, now, renotify_hours)
        if transition is not None:
            transitions.append(transition)
    kept = why_kept(report, states)
    for finding_id, state in _absent(report, states).items():
        if finding_id not in kept:
            alert = AlertChange("resolved", state.finding, state.finding.severity)
            transitions.append(_closed(state, alert, "resolved", report.run_id, now))
    return transitions


def why_kept(report: Report, states: Mapping[str, AlertState]) -> dict[str, str]:
    """Open alerts absent from this run that it could not evaluate, by finding id: why each
    keeps its state instead of being resolved."""
    skipped = unevaluated(report.clusters)
    kept = {}
    for finding_id, state in _absent(report, states).items():
        finding = state.finding
        key = (finding.account_id, finding.region, finding.cluster, finding.kind, finding.resource)
        why = _not_audited(report.coverage, finding) or skipped.get(key)
        if why is not None:
            kept[finding_id] = why
    return kept


def _absent(report: Report, states: Mapping[str, AlertState]) -> dict[str, AlertState]:
    """Open alerts this run did not find (muted ones are _silenced's) and has not handled."""
    present = alerting(f for f in report.findings if not f.muted)
    muted = {f.id for f in report.findings if f.muted}
    return {
        finding_id: state
        for finding_id, state in states.items()
        if finding_id not in present
        and finding_id not in muted
        and state.status == "open"
        and state.run_id != report.run_id
    }


def _closed(
    state: AlertState, alert: AlertChange, status: Status, run_id: str, now: datetime
) -> Transition:
    """An open alert leaves `open` (resolved or muted), keeping the finding its change names."""
    return Transition(
        alert=alert,
        state=replace(
            state,
            finding=alert.finding,
            status=status,
            notified_at=now,
            run_id=run_id,
            version=state.version + 1,
        ),
        expected_version=state.version,
    )


def stateless(report: Report) -> list[AlertChange]:
    """Without a table there is no memory: every alerting unmuted finding counts as new."""
    unmuted = (f for f in report.findings if not f.muted)
    return [AlertChange("new", finding) for finding in alerting(unmuted).values()]


def audible(changes: Iterable[AlertChange]) -> list[AlertChange]:
    """The changes that are sent to Slack and SNS."""
    return [change for change in changes if change.change not in SILENT_CHANGES]


def _silenced(report: Report, states: Mapping[str, AlertState], now: datetime) -> list[Transition]:
    """An open alert whose finding is now muted goes quiet: no reminder, escalation or
    resolution while the mute lasts; its state then reads `muted`, so the finding comes back as
    new once the mute expires."""
    transitions = []
    for finding_id, finding in alerting(f for f in report.findings if f.muted).items():
        state = states.get(finding_id)
        if state is None or state.status != "open" or state.run_id == report.run_id:
            continue
        alert = AlertChange("muted", finding, state.notified_severity, state.notified_value)
        transitions.append(_closed(state, alert, "muted", report.run_id, now))
    return transitions


def covered(coverage: Iterable[Coverage], finding: Finding) -> bool:
    """Whether this run audited the finding's whole scope (its account x region, and its
    cluster when it has one) without an error."""
    return _not_audited(coverage, finding) is None


def _not_audited(coverage: Iterable[Coverage], finding: Finding) -> str | None:
    """Why this run did not fully audit the finding's scope; None when it did."""
    entries = [
        c for c in coverage if (c.account_id, c.region) == (finding.account_id, finding.region)
    ]
    if not entries:
        return "its account and region were not part of this run"
    for c in entries:
        if c.status == "error" and (c.cluster is None or c.cluster == finding.cluster):
            return f"not audited: {c.error or 'error'}"
    return None


def _for_present(
    finding: Finding,
    state: AlertState | None,
    run_id: str,
    now: datetime,
    renotify_hours: float,
) -> Transition | None:
    if state is None or state.status != "open":  # resolved, or muted until now
        return Transition(
            alert=AlertChange("new", finding),
            state=AlertState(
                finding=finding,
                status="open",
                opened_at=now,
                notified_at=now,
                notified_severity=finding.severity,
                notified_value=finding.value,
                run_id=run_id,
                version=1 if state is None else state.version + 1,
            ),
            expected_version=None if state is None else state.version,
        )
    if _escalated(finding, state):
        change: Change = "escalated"
    elif now - state.notified_at >= timedelta(hours=renotify_hours):
        change = "reminded"
    else:
        return None
    return Transition(
        alert=AlertChange(change, finding, state.notified_severity, state.notified_value),
        # A message re-bases severity and value: the next escalation is measured from here.
        state=replace(
            state,
            finding=finding,
            notified_at=now,
            notified_severity=finding.severity,
            notified_value=finding.value,
            run_id=run_id,
            version=state.version + 1,
        ),
        expected_version=state.version,
    )


def _escalated(finding: Finding, state: AlertState) -> bool:
    if SEVERITY_RANK[finding.severity] > SEVERITY_RANK[state.notified_severity]:
        return True
    return (
        finding.kind in FREE_ADDRESS_KINDS
        and finding.value is not None
        and state.notified_value is not None
        and state.notified_value > 0
        and finding.value <= state.notified_value * SHARP_DROP_SHARE
    )
