"""Credentials and webhook URLs out of every log record, whichever logger made it, at any level.

botocore at DEBUG logs every response body (AssumeRole's SecretAccessKey and SessionToken) and
every request's headers (the caller's X-Amz-Security-Token); urllib3 logs request paths (a Slack
webhook's path is its secret). Quieting those loggers while a secret is in use (notify/slack.py)
is not enough: AssumeRole happens for every member account. `install()` puts `RedactingFilter`
in front of every record as it is made (the log record factory), so every handler, the Lambda's
and pytest's included, only ever sees the redacted text.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from typing import Any

REDACTED = "REDACTED"

_NAMES = (
    r"SecretAccessKey|SessionToken|aws_secret_access_key|aws_session_token|"
    r"X-Amz-Security-Token|SecretString"
)
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # XML answers (STS, the query protocols): <SecretAccessKey>...</SecretAccessKey>
    (re.compile(rf"<({_NAMES})>[^<]*</\1>", re.IGNORECASE), rf"<\1>{REDACTED}</\1>"),
    # JSON and Python reprs: "SessionToken": "...", 'X-Amz-Security-Token': b'...'
    (
        re.compile(rf"""(["']?(?:{_NAMES})["']?\s*:\s*b?(["']))(?:(?!\2).)*\2""", re.IGNORECASE),
        rf"\1{REDACTED}\2",
    ),
    # key=value (query strings, presigned URLs) and key:value (SigV4's canonical request)
    (re.compile(rf"((?:{_NAMES})[=:])[^&\s'\",]+", re.IGNORECASE), rf"\1{REDACTED}"),
    # An EKS token is a bearer credential for the cluster.
    (re.compile(r"k8s-aws-v1\.[A-Za-z0-9_=-]+"), f"k8s-aws-v1.{REDACTED}"),
    # A Slack incoming webhook's path is its secret.
    (re.compile(r"(/services/)[^\s'\"<>]+"), rf"\1{REDACTED}"),
]

_known: set[str] = set()
_lock = threading.Lock()


def secret(value: str | None) -> None:
    """Redact this exact value too from now on (a webhook URL whatever its shape)."""
    if value and len(value) >= 8:  # a shorter value would redact ordinary words
        with _lock:
            _known.add(value)


def redact(text: str) -> str:
    for known in sorted(_known, key=len, reverse=True):
        text = text.replace(known, REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites a record's message (and its traceback) with credentials redacted; drops none."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):  # structured (dict) messages are the product's own
            try:
                message = record.getMessage()
            except (TypeError, ValueError):  # a bad format string: logging reports it later
                return True
            record.msg, record.args = redact(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


_FILTER = RedactingFilter()


def install() -> None:
    """Redact every record from now on, once per process."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "redacting", False):
        return

    def redacting(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        _FILTER.filter(record)
        return record

    marked: Callable[..., logging.LogRecord] = redacting
    marked.redacting = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(marked)
