"""The weekly digest from a seeded week in moto, sent through SES v2 and read back."""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSPreparedRequest
from support.reports import T0, cluster, report, subnet

from ipaudit.digest import weekly_digest
from ipaudit.errors import InputError
from ipaudit.pipeline import after_audit
from ipaudit.settings import Settings
from ipaudit.store.table import create_table
from ipaudit_sim.aws import MotoServer
from ipaudit_sim.history_seed import seed_history

TABLE = "ipaudit-digest"
SENDER = "ipaudit@example.com"
RECIPIENTS = ("platform@example.com", "em@example.com")


@pytest.fixture
def seeded(aws: boto3.Session) -> Settings:
    """A week of daily runs shrinking toward today's audit, and today's run stored."""
    create_table(aws.client("dynamodb"), TABLE)
    settings = Settings(table=TABLE, email_from=SENDER, email_to=RECIPIENTS)
    today = report(
        [cluster(subnets=[subnet("subnet-a", free=60), subnet("subnet-b", free=700)])], at=T0
    )
    seed_history(today, settings, aws, days=7)
    outcome = after_audit(today, settings, aws, now=T0)
    assert outcome.stored
    forecast = [f for f in outcome.report.findings if f.kind == "subnet_forecast"]
    assert [f.resource for f in forecast] == ["subnet-a"]  # ~15/day lost, 60 left
    return settings


@dataclass(frozen=True)
class SentMail:
    """A message as moto's SES stored it (it keeps the HTML body of a Simple message)."""

    source: str
    to: list[str]
    subject: str
    html: str


def sent_mail(server: MotoServer) -> list[SentMail]:
    with urllib.request.urlopen(f"{server.url}/moto-api/data.json", timeout=10) as response:
        data = json.load(response)
    return [
        SentMail(m["source"], m["destinations"]["ToAddresses"], m["subject"], m["body"])
        for m in data["ses"]["Message"]
    ]


def sent_requests(session: boto3.Session) -> list[dict[str, Any]]:
    """The SendEmail requests as they go over the wire to SES (moto stores no text part)."""
    requests: list[dict[str, Any]] = []

    def record(request: AWSPreparedRequest, **_: Any) -> None:
        requests.append(json.loads(request.body or b"{}"))

    session.events.register("before-send.sesv2.SendEmail", record)
    return requests


def test_the_digest_is_sent_as_html_and_text_and_read_back(
    aws: boto3.Session, seeded: Settings, moto_server: MotoServer
) -> None:
    aws.client("sesv2").create_email_identity(EmailIdentity=SENDER)
    wire = sent_requests(aws)
    digest = weekly_digest(seeded, aws, now=T0 + timedelta(minutes=5), send=True)
    assert digest.message_id

    (message,) = sent_mail(moto_server)
    assert message.subject == digest.subject
    assert message.source == SENDER and message.to == list(RECIPIENTS)
    html = message.html
    assert "<script" not in html.lower() and "<img" not in html.lower()
    assert html.count('bgcolor="') == 2 * 7  # a bar per subnet per day of the week
    assert 'title="60 free"' in html

    # SES v2's Simple content: SES itself builds the text/plain + text/html alternative.
    ((request,),) = [wire]
    body = request["Content"]["Simple"]["Body"]
    assert body["Html"] == {"Data": html, "Charset": "UTF-8"}
    assert body["Text"]["Charset"] == "UTF-8"
    assert "== prod (111111111111 / eu-west-1)" in body["Text"]["Data"]
    assert "days until full:" in body["Text"]["Data"]


def test_sending_needs_a_sender_and_recipients(aws: boto3.Session, seeded: Settings) -> None:
    with pytest.raises(InputError, match="IPAUDIT_EMAIL_TO: not set"):
        weekly_digest(replace(seeded, email_to=()), aws, send=True)
