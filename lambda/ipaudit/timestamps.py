"""Timestamps as the contracts write them: ISO 8601 in UTC, the same text in the report, the
table's keys, Slack and SNS."""

from __future__ import annotations

from datetime import UTC, datetime


def key_time(moment: datetime) -> str:
    """A UTC timestamp that sorts as text, to the second: the form every key uses."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    """An ISO 8601 timestamp (with Z or an offset; naive means UTC) as an aware datetime."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())
