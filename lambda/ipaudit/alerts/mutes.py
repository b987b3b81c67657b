"""Mutes: a finding on-call has decided to live with for a while, with who, why and until when.

A mute names one finding by its id, or a pattern over account, region, cluster, kind and
resource (shell-style globs, like Prowler's mutelist). A muted finding stays in the report,
marked; the alert lifecycle keeps it from raising messages until the mute expires.
Pure: the table (store/mute_items.py) and the settings (IPAUDIT_MUTES) supply the mutes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from typing import Any, Literal

from ipaudit.errors import InputError
from ipaudit.report import Finding, Report
from ipaudit.timestamps import parse_time

# The finding fields a pattern may name, in the order they appear in a finding id.
PATTERN_FIELDS = ("account_id", "region", "cluster", "kind", "resource")
MAX_DURATION = timedelta(days=365)  # a longer silence is a threshold change, not a mute
MAX_REASON = 500
_DURATION = re.compile(r"^(\d+)([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}

Source = Literal["table", "file"]


@dataclass(frozen=True)
class Mute:
    id: str
    reason: str
    expires_at: datetime
    created_by: str  # the caller's ARN, or who the mutes file names
    created_at: datetime | None
    source: Source
    finding_id: str | None = None  # a mute of one finding ...
    pattern: Mapping[str, str] | None = None  # ... or of every finding matching these globs

    def active(self, now: datetime) -> bool:
        return now < self.expires_at

    def matches(self, finding: Finding) -> bool:
        if self.finding_id is not None:
            return finding.id == self.finding_id
        assert self.pattern is not None
        return all(
            fnmatchcase(getattr(finding, name) or "-", glob) for name, glob in self.pattern.items()
        )

    def describe(self) -> str:
        """What it mutes, as a person reads it."""
        if self.finding_id is not None:
            return self.finding_id
        assert self.pattern is not None
        return " ".join(f"{name}={glob}" for name, glob in self.pattern.items())


def parse_duration(text: str, name: str = "--for") -> timedelta:
    match = _DURATION.match(text.strip())
    if not match or int(match.group(1)) == 0:
        raise InputError(f"{name}: {text!r} is not a duration like 30m, 12h, 7d or 2w")
    duration = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    if duration > MAX_DURATION:
        raise InputError(
            f"{name}: {text!r} is longer than {MAX_DURATION.days} days; "
            "change the thresholds instead of muting for that long"
        )
    return duration


def check_finding_id(finding_id: str, name: str) -> str:
    """A finding id is `kind:account:region:cluster:resource` (report.finding_id)."""
    parts = finding_id.split(":", 4)
    if len(parts) != 5 or not all(parts) or not re.match(r"^\d{12}$", parts[1]):
        raise InputError(
            f"{name}: {finding_id!r} is not a finding id (kind:account:region:cluster:resource, "
            "as `ipaudit audit --output json` prints it)"
        )
    return finding_id


def check_pattern(pattern: Mapping[str, str], name: str) -> dict[str, str]:
    """Globs in PATTERN_FIELDS order; refuses unknown fields and a pattern matching everything."""
    unknown = sorted(set(pattern) - set(PATTERN_FIELDS))
    if unknown:
        raise InputError(f"{name}: unknown field {unknown[0]!r} (use {', '.join(PATTERN_FIELDS)})")
    checked = {field: pattern[field].strip() for field in PATTERN_FIELDS if field in pattern}
    if any(not glob for glob in checked.values()):
        raise InputError(f"{name}: an empty pattern; give a value or a glob such as 'prod-*'")
    if all(glob.strip("*") == "" for glob in checked.values()):
        raise InputError(f"{name}: this would mute every finding; name what to mute")
    return checked


def check_reason(reason: str, name: str) -> str:
    reason = " ".join(reason.split())
    if not reason:
        raise InputError(f"{name}: say why (on-call reads it when the finding comes back)")
    if len(reason) > MAX_REASON:
        raise InputError(f"{name}: longer than {MAX_REASON} characters")
    return reason


def mute_id(finding_id: str | None, pattern: Mapping[str, str] | None) -> str:
    """Muting the same thing again replaces the mute: the id follows from what is muted."""
    if finding_id is not None:
        return finding_id
    assert pattern is not None
    canonical = "\n".join(f"{k}={v}" for k, v in sorted(pattern.items()))
    return "pattern-" + hashlib.sha256(canonical.encode()).hexdigest()[:10]


def apply_mutes(report: Report, mutes: Iterable[Mute], now: datetime) -> Report:
    """The report with every finding an active mute matches marked muted (the mute lasting
    longest wins when several match)."""
    active = sorted((m for m in mutes if m.active(now)), key=lambda m: m.expires_at, reverse=True)
    if not active:
        return report
    return replace(report, findings=[_muted(f, active) for f in report.findings])


def _muted(finding: Finding, active: Sequence[Mute]) -> Finding:
    for mute in active:
        if mute.matches(finding):
            return replace(
                finding,
                muted=True,
                mute_id=mute.id,
                mute_reason=mute.reason,
                mute_expires_at=iso(mute.expires_at),
                muted_by=mute.created_by,
            )
    return finding


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def mutes_from_file(entries: Any, name: str) -> list[Mute]:
    """Mutes kept in git (the CDK context's mutes file, passed as IPAUDIT_MUTES): a JSON list of
    {"finding_id" | pattern fields, "reason", "expires": ISO date or time, "by"?}."""
    if not isinstance(entries, list):
        raise InputError(f"{name}: not a JSON list of mutes")
    mutes = []
    for index, entry in enumerate(entries):
        where = f"{name}[{index}]"
        if not isinstance(entry, dict) or not all(isinstance(v, str) for v in entry.values()):
            raise InputError(f"{where}: not an object of strings")
        known = {"finding_id", "reason", "expires", "by", *PATTERN_FIELDS}
        extra = sorted(set(entry) - known)
        if extra:
            raise InputError(f"{where}: unknown field {extra[0]!r}")
        if "expires" not in entry:
            raise InputError(f"{where}.expires: missing (an ISO date such as 2027-01-31)")
        try:
            expires = parse_time(entry["expires"])
        except ValueError:
            raise InputError(
                f"{where}.expires: {entry['expires']!r} is not an ISO date or time"
            ) from None
        reason = check_reason(entry.get("reason", ""), f"{where}.reason")
        fields = {k: v for k, v in entry.items() if k in PATTERN_FIELDS}
        if "finding_id" in entry:
            if fields:
                raise InputError(f"{where}: give finding_id or pattern fields, not both")
            finding_id: str | None = check_finding_id(entry["finding_id"], f"{where}.finding_id")
            pattern = None
        elif fields:
            finding_id, pattern = None, check_pattern(fields, where)
        else:
            raise InputError(f"{where}: give finding_id or at least one of {PATTERN_FIELDS}")
        mutes.append(
            Mute(
                id=mute_id(finding_id, pattern),
                reason=reason,
                expires_at=expires,
                created_by=entry.get("by") or "mutes file",
                created_at=None,
                source="file",
                finding_id=finding_id,
                pattern=pattern,
            )
        )
    return mutes
