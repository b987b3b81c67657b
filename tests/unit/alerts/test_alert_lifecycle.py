"""The lifecycle's decisions: who hears what, and when, as the findings change run to run."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from support.reports import ACCOUNT, REGION, T0, cluster, report, subnet

from ipaudit.alerts.lifecycle import AlertState, Transition, plan
from ipaudit.report import Coverage, Finding, Report

RENOTIFY = 24.0


def apply(states: dict[str, AlertState], transitions: list[Transition]) -> dict[str, AlertState]:
    return {**states, **{t.state.finding.id: t.state for t in transitions}}


def changes(transitions: list[Transition]) -> list[tuple[str, str]]:
    return sorted((t.alert.change, t.alert.finding.kind) for t in transitions)


def tight(free: int, run_id: str, hours: float = 0, **kwargs: object) -> Report:
    return report(
        [cluster(subnets=[subnet(free=free)])],
        run_id=run_id,
        at=T0 + timedelta(hours=hours),
        **kwargs,  # type: ignore[arg-type]
    )


def run(
    states: dict[str, AlertState], rep: Report, hours: float = 0
) -> tuple[list[Transition], dict[str, AlertState]]:
    transitions = plan(rep, states, now=T0 + timedelta(hours=hours), renotify_hours=RENOTIFY)
    return transitions, apply(states, transitions)


def test_a_first_warning_is_new_and_info_findings_never_alert() -> None:
    rep = tight(200, "r1")  # 19.6% free: WARNING
    info = Finding("info:x", "INFO", "note", ACCOUNT, REGION, "prod", "prod", "fyi")
    rep = replace(rep, findings=[*rep.findings, info])
    transitions, _ = run({}, rep)
    kinds = changes(transitions)
    assert ("new", "subnet_headroom") in kinds
    assert all(t.alert.finding.severity != "INFO" for t in transitions)
    assert all(t.expected_version is None for t in transitions)


def test_an_unchanged_alert_stays_quiet_then_reminds_once_per_period() -> None:
    _, states = run({}, tight(200, "r1"))
    quiet, states = run(states, tight(200, "r2", hours=1), hours=1)
    assert quiet == []
    reminder, states = run(states, tight(200, "r3", hours=25), hours=25)
    assert ("reminded", "subnet_headroom") in changes(reminder)
    again, _ = run(states, tight(200, "r4", hours=26), hours=26)
    assert again == []


def test_warning_to_critical_escalates() -> None:
    _, states = run({}, tight(200, "r1"))
    transitions, _ = run(states, tight(50, "r2", hours=1), hours=1)  # 4.9%: CRITICAL
    subnet_change = next(t for t in transitions if t.alert.finding.kind == "subnet_headroom")
    assert subnet_change.alert.change == "escalated"
    assert subnet_change.alert.previous_severity == "WARNING"
    assert subnet_change.alert.finding.severity == "CRITICAL"


def test_free_addresses_halving_at_the_same_severity_escalates() -> None:
    _, states = run({}, tight(90, "r1"))  # CRITICAL already
    small_drop, states = run(states, tight(60, "r2", hours=1), hours=1)
    assert small_drop == []
    halved, _ = run(states, tight(40, "r3", hours=2), hours=2)  # 40 <= 90 / 2
    assert ("escalated", "subnet_headroom") in changes(halved)


def test_critical_back_to_warning_stays_quiet() -> None:
    _, states = run({}, tight(50, "r1"))
    transitions, _ = run(states, tight(200, "r2", hours=1), hours=1)
    assert transitions == []


def test_an_absent_finding_of_a_fully_audited_scope_resolves_once() -> None:
    _, states = run({}, tight(200, "r1"))
    resolved, states = run(states, tight(900, "r2", hours=1), hours=1)
    assert [t.alert.change for t in resolved] == ["resolved"]
    assert resolved[0].state.status == "resolved"
    later, _ = run(states, tight(900, "r3", hours=2), hours=2)
    assert later == []


def test_a_deleted_cluster_resolves_when_its_region_was_audited() -> None:
    _, states = run({}, tight(200, "r1"))
    other = report(
        [cluster("other", [subnet("subnet-z", free=900)])], run_id="r2", at=T0 + timedelta(hours=1)
    )
    transitions, _ = run(states, other, hours=1)
    assert ("resolved", "subnet_headroom") in changes(transitions)


def test_an_unreachable_scope_neither_resolves_nor_repeats() -> None:
    _, states = run({}, tight(200, "r1"))
    gaps = {
        "account x region failed": [Coverage(ACCOUNT, REGION, None, "error", "AccessDenied")],
        "cluster's Kubernetes failed": [Coverage(ACCOUNT, REGION, "prod", "error", "timeout")],
        "target cut by the run's deadline": [
            Coverage(ACCOUNT, REGION, None, "error", "not audited: deadline")
        ],
        "region not in this run": [Coverage(ACCOUNT, "us-east-1", None, "ok")],
    }
    for why, coverage in gaps.items():
        rep = report([], run_id="r2", at=T0 + timedelta(hours=30), coverage=coverage)
        transitions, _ = run(states, rep, hours=30)
        assert transitions == [], why


def test_a_resolved_alert_that_comes_back_is_new_again() -> None:
    _, states = run({}, tight(200, "r1"))
    _, states = run(states, tight(900, "r2", hours=1), hours=1)
    back, _ = run(states, tight(200, "r3", hours=2), hours=2)
    transition = next(t for t in back if t.alert.finding.kind == "subnet_headroom")
    assert transition.alert.change == "new"
    assert transition.expected_version == states[transition.state.finding.id].version


def test_a_retry_of_the_same_run_changes_nothing() -> None:
    first = tight(200, "r1")
    _, states = run({}, first)
    retry = replace(first, generated_at=(T0 + timedelta(hours=30)).isoformat())
    transitions, _ = run(states, retry, hours=30)
    assert transitions == []


def muted(rep: Report, days: float = 7) -> Report:
    """The report with every finding muted until T0 + days (as alerts/mutes.apply_mutes marks)."""
    until = (T0 + timedelta(days=days)).isoformat()
    return replace(
        rep,
        findings=[
            replace(f, muted=True, mute_id=f.id, mute_reason="by design", mute_expires_at=until)
            for f in rep.findings
        ],
    )


def test_a_muted_finding_never_alerts_and_leaves_no_state_to_announce() -> None:
    transitions, _ = run({}, muted(tight(50, "r1")))
    assert transitions == []


def test_muting_an_open_alert_moves_it_to_muted_silently_then_nothing_while_muted() -> None:
    _, states = run({}, tight(200, "r1"))
    transitions, states = run(states, muted(tight(200, "r2", hours=1)), hours=1)
    assert changes(transitions) == [("muted", "subnet_headroom")]
    assert {s.status for s in states.values()} == {"muted"}
    # Worse, reminded-late and gone: none of it is announced while muted.
    assert run(states, muted(tight(20, "r3", hours=30)), hours=30)[0] == []
    assert run(states, tight(900, "r4", hours=31), hours=31)[0] == []


def test_when_the_mute_ends_the_finding_alerts_again_as_new() -> None:
    _, states = run({}, tight(200, "r1"))
    _, states = run(states, muted(tight(200, "r2", hours=1)), hours=1)
    back, states = run(states, tight(200, "r3", hours=24 * 8), hours=24 * 8)
    assert changes(back) == [("new", "subnet_headroom")]
    assert {s.status for s in states.values()} == {"open"}
