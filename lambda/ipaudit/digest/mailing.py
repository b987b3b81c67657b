"""`weekly_digest`: the week from the stored history, as HTML and text, optionally sent by SES."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3

from ipaudit.aws.session import make_client
from ipaudit.digest.week import WEEK_DAYS, Week, build_week, still_muted
from ipaudit.errors import InputError
from ipaudit.forecast.trend import WINDOW_DAYS
from ipaudit.render.digest_html import render_html
from ipaudit.render.digest_text import render_text
from ipaudit.settings import Settings
from ipaudit.store.alert_state import events_since
from ipaudit.store.runs import cluster_runs_since
from ipaudit.words import plural


@dataclass(frozen=True)
class Digest:
    subject: str
    html: str
    text: str
    week: Week
    message_id: str | None = None  # SES's id when sent


def weekly_digest(
    settings: Settings,
    session: boto3.Session,
    *,
    now: datetime | None = None,
    send: bool = False,
    html_path: Path | None = None,
) -> Digest:
    """Build the digest from IPAUDIT_TABLE; write it to `html_path`; with `send`, mail it."""
    if not settings.table:
        raise InputError("IPAUDIT_TABLE: not set; the digest is built from the stored history")
    if send and not settings.email_from:
        raise InputError("IPAUDIT_EMAIL_FROM: not set; needed to send the digest")
    if send and not settings.email_to:
        raise InputError("IPAUDIT_EMAIL_TO: not set; needed to send the digest")
    now = now or datetime.now(UTC)
    dynamodb = make_client(session, "dynamodb")
    # The forecast looks back further than the week it reports on.
    runs = cluster_runs_since(dynamodb, settings.table, now - timedelta(days=WINDOW_DAYS))
    events = events_since(dynamodb, settings.table, now - timedelta(days=WEEK_DAYS))
    latest = {run.cluster.key: run for run in runs if run.generated_at <= now}  # oldest first
    muted = still_muted((f for run in latest.values() for f in run.findings), now)
    week = build_week([(run.generated_at, run.cluster) for run in runs], events, now, muted)
    subject = (
        f"ipaudit weekly summary {now:%d %b %Y}: {plural(len(week.clusters), 'cluster')}, "
        f"{plural(len(week.raised), 'alert')} raised, {len(week.resolved)} resolved"
    )
    digest = Digest(subject, render_html(week, subject), render_text(week, subject), week)
    if html_path is not None:
        try:
            html_path.write_text(digest.html, encoding="utf-8")
        except OSError as error:
            raise InputError(f"--html: cannot write {html_path}: {error.strerror}") from None
    if send:
        assert settings.email_from is not None
        message_id = _send(session, digest, settings.email_from, settings.email_to)
        digest = Digest(digest.subject, digest.html, digest.text, week, message_id)
    return digest


def _send(session: boto3.Session, digest: Digest, sender: str, recipients: tuple[str, ...]) -> str:
    """One message with a text and an HTML part; SES assembles the multipart/alternative MIME
    (clients that can show HTML prefer it)."""
    utf8 = "UTF-8"
    response = make_client(session, "sesv2").send_email(
        FromEmailAddress=sender,
        Destination={"ToAddresses": list(recipients)},
        Content={
            "Simple": {
                "Subject": {"Data": digest.subject, "Charset": utf8},
                "Body": {
                    "Text": {"Data": digest.text, "Charset": utf8},
                    "Html": {"Data": digest.html, "Charset": utf8},
                },
            }
        },
    )
    return str(response["MessageId"])
