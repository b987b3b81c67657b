"""The redacting log filter: every shape a credential or webhook takes in a log line."""

from __future__ import annotations

import logging

import pytest

from ipaudit import redact


@pytest.mark.parametrize(
    ("line", "kept"),
    [
        ("<SecretAccessKey>wJalrXUtnFEMI/K7MDENG</SecretAccessKey>", "<SecretAccessKey>"),
        ("<SessionToken>FwoGZXIvYXdz+abc==</SessionToken>", "</SessionToken>"),
        ('{"SecretAccessKey": "wJalrXUtnFEMI/K7MDENG", "AccessKeyId": "AKIA1"}', "AKIA1"),
        ("headers={'X-Amz-Security-Token': b'FwoGZXIvYXdz+abc=='}", "X-Amz-Security-Token"),
        ("x-amz-security-token:FwoGZXIvYXdz+abc==\nhost", "host"),
        ("GET /?X-Amz-Security-Token=FwoGZXIvYXdz%2Babc&X-Amz-Date=1", "X-Amz-Date=1"),
        ("Bearer k8s-aws-v1.aHR0cHM6Ly9zdHMu_x-y", "Bearer k8s-aws-v1."),
        ('"POST /services/T0/B0/wJalrXUtnFEMI HTTP/1.1" 500', '" 500'),
    ],
)
def test_each_shape_is_redacted(line: str, kept: str) -> None:
    out = redact.redact(line)
    assert redact.REDACTED in out and kept in out
    for secret in ("wJalrXUtnFEMI", "FwoGZXIvYXdz", "aHR0cHM6Ly9zdHMu"):
        assert secret not in out


def test_a_registered_secret_is_redacted_whatever_its_shape() -> None:
    redact.secret("https://chat.example.com/hooks/abcdef123456")
    assert redact.redact("posting to https://chat.example.com/hooks/abcdef123456 now") == (
        "posting to REDACTED now"
    )


def test_the_filter_rewrites_the_message_and_keeps_the_record() -> None:
    record = logging.LogRecord(
        "botocore.parsers",
        logging.DEBUG,
        __file__,
        1,
        "Response body:\n%s",
        (b"<SessionToken>t0k</SessionToken>",),
        None,
    )
    assert redact.RedactingFilter().filter(record)
    assert record.getMessage() == "Response body:\nb'<SessionToken>REDACTED</SessionToken>'"
