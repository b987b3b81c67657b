"""Mutes: which findings they cover, for how long, and what a mutes file may say."""

from __future__ import annotations

from datetime import timedelta

import pytest
from support.reports import ACCOUNT, REGION, T0, cluster, report, subnet

from ipaudit.alerts.mutes import (
    Mute,
    apply_mutes,
    check_pattern,
    mute_id,
    mutes_from_file,
    parse_duration,
)
from ipaudit.errors import InputError
from ipaudit.report import Report

FINDING = f"subnet_headroom:{ACCOUNT}:{REGION}:prod:subnet-a"


def tight() -> Report:
    """Two clusters, each with one subnet at 5% free (CRITICAL)."""
    return report(
        [
            cluster("prod", [subnet("subnet-a", free=50)]),
            cluster("legacy-1", [subnet("subnet-l", free=50)]),
        ]
    )


def mute(
    *, finding_id: str | None = None, pattern: dict[str, str] | None = None, days: float = 7
) -> Mute:
    return Mute(
        id=mute_id(finding_id, pattern),
        reason="dedicated /28 for the control plane",
        expires_at=T0 + timedelta(days=days),
        created_by="arn:aws:iam::111111111111:user/alice",
        created_at=T0,
        source="table",
        finding_id=finding_id,
        pattern=pattern,
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("12h", timedelta(hours=12)),
        ("7d", timedelta(days=7)),
        ("2w", timedelta(weeks=2)),
    ],
)
def test_durations_read_as_people_write_them(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [("7", "not a duration"), ("0d", "not a duration"), ("1y", "not a duration"), ("400d", "365")],
)
def test_a_bad_or_endless_duration_is_refused_by_name(text: str, problem: str) -> None:
    with pytest.raises(InputError, match=rf"^--for: '{text}' .*{problem}"):
        parse_duration(text)


def test_a_finding_mute_marks_only_that_finding_with_reason_who_and_expiry() -> None:
    muted = apply_mutes(tight(), [mute(finding_id=FINDING)], T0 + timedelta(days=1))
    by_id = {f.id: f for f in muted.findings}
    assert len(by_id) == 2  # the muted finding stays in the report
    target = by_id[FINDING]
    assert target.muted and target.mute_id == FINDING
    assert target.mute_reason == "dedicated /28 for the control plane"
    assert target.mute_expires_at == "2026-03-09T09:00:00Z"
    assert target.muted_by == "arn:aws:iam::111111111111:user/alice"
    assert [f.muted for f in muted.findings if f.id != FINDING] == [False]


def test_a_pattern_mute_matches_globs_over_the_finding_fields() -> None:
    pattern = {"cluster": "legacy-*", "kind": "subnet_headroom"}
    muted = apply_mutes(tight(), [mute(pattern=pattern)], T0)
    assert {f.cluster: f.muted for f in muted.findings} == {"prod": False, "legacy-1": True}
    elsewhere = apply_mutes(tight(), [mute(pattern={"region": "us-*"})], T0)
    assert not any(f.muted for f in elsewhere.findings)


def test_an_expired_mute_no_longer_mutes() -> None:
    later = apply_mutes(tight(), [mute(finding_id=FINDING, days=7)], T0 + timedelta(days=7))
    assert not any(f.muted for f in later.findings)


def test_when_mutes_overlap_the_one_lasting_longest_is_reported() -> None:
    short = mute(finding_id=FINDING, days=1)
    long = mute(pattern={"account_id": ACCOUNT}, days=30)
    (first, *_) = [f for f in apply_mutes(tight(), [short, long], T0).findings if f.id == FINDING]
    assert first.mute_id == long.id and first.mute_expires_at == "2026-04-01T09:00:00Z"


def test_muting_the_same_thing_twice_gives_the_same_id_so_it_replaces() -> None:
    a = mute_id(None, {"cluster": "legacy-*", "kind": "subnet_headroom"})
    b = mute_id(None, {"kind": "subnet_headroom", "cluster": "legacy-*"})
    assert a == b and a.startswith("pattern-")
    assert mute_id(FINDING, None) == FINDING


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        ({"cluster": "*"}, "would mute every finding"),
        ({"team": "x"}, "unknown field 'team'"),
        ({"cluster": " "}, "empty pattern"),
    ],
)
def test_a_pattern_that_says_nothing_precise_is_refused(
    pattern: dict[str, str], problem: str
) -> None:
    with pytest.raises(InputError, match=problem):
        check_pattern(pattern, "--match")


def test_a_mutes_file_entry_reads_with_an_absolute_expiry_and_its_author() -> None:
    [by_id, by_pattern] = mutes_from_file(
        [
            {"finding_id": FINDING, "reason": "by design", "expires": "2026-12-31"},
            {
                "cluster": "legacy-*",
                "reason": "decommissioning",
                "expires": "2026-06-30T12:00:00Z",
                "by": "platform-team",
            },
        ],
        "mutes.json",
    )
    assert (by_id.source, by_id.created_by, by_id.expires_at.isoformat()) == (
        "file",
        "mutes file",
        "2026-12-31T00:00:00+00:00",
    )
    assert (
        by_pattern.pattern == {"cluster": "legacy-*"} and by_pattern.created_by == "platform-team"
    )


@pytest.mark.parametrize(
    ("entries", "problem"),
    [
        ({"finding_id": FINDING}, r"^mutes.json: not a JSON list"),
        ([{"finding_id": FINDING, "reason": "x"}], r"^mutes.json\[0\].expires: missing"),
        ([{"finding_id": FINDING, "expires": "2026-12-31"}], r"^mutes.json\[0\].reason: say why"),
        (
            [{"finding_id": "prod", "reason": "x", "expires": "2026-12-31"}],
            r"^mutes.json\[0\].finding_id: 'prod' is not a finding id",
        ),
        (
            [{"cluster": "a", "reason": "x", "expires": "next week"}],
            r"^mutes.json\[0\].expires: 'next week' is not an ISO date",
        ),
        ([{"reason": "x", "expires": "2026-12-31"}], r"^mutes.json\[0\]: give finding_id or"),
        (
            [{"cluster": "a", "reason": "x", "expires": "2026-12-31", "until": "x"}],
            r"^mutes.json\[0\]: unknown field 'until'",
        ),
    ],
)
def test_a_bad_mutes_file_entry_is_named_by_position_and_field(
    entries: object, problem: str
) -> None:
    with pytest.raises(InputError, match=problem):
        mutes_from_file(entries, "mutes.json")
