"""Where announcements go, behind one small interface: Slack, SNS and Security Hub.

A destination is given the deliveries it is to carry, in commit order, and says which it
accepted. It reports each accepted group through `accepted` the moment the destination answers,
so the pipeline marks them before anything else can go wrong (a kill, a hung next batch).
Slack and SNS deliveries are the table's pending items; Security Hub's are this run's changes
only (it imports the findings' whole state every run, so it needs no outbox).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

import boto3

from ipaudit.alerts.lifecycle import AlertChange
from ipaudit.aws.session import make_client
from ipaudit.notify import slack
from ipaudit.notify.security_hub import import_findings
from ipaudit.notify.sns import SnsMessage, late, publish
from ipaudit.render.slack_blocks import build_payload
from ipaudit.report import Report
from ipaudit.settings import Settings
from ipaudit.store.deliveries import Delivery
from ipaudit.store.deliveries import Destination as DestinationName
from ipaudit.timestamps import key_time

logger = logging.getLogger(__name__)

Accepted = Callable[[Sequence[Delivery]], None]

# Why a run released Slack announcements it had no URL to post to (the secret's placeholder).
SLACK_OFF = "Slack is off: the secret holds no webhook URL yet"


@dataclass(frozen=True)
class Sent:
    accepted: Sequence[Delivery] = ()
    errors: Sequence[str] = ()  # safe to log and store: never a URL or a secret
    # Why what was not accepted was not, when no error says it (Slack switched off).
    reason: str | None = None
    count: int = 0  # what the destination took: changes posted, messages, findings imported
    # False: what it did not accept may have arrived all the same (the deadline cut it short);
    # it is then neither marked nor released.
    settled: bool = True

    @property
    def error(self) -> str | None:
        return self.errors[0] if self.errors else None


class Destination(Protocol):
    @property
    def name(self) -> DestinationName: ...

    def send(self, deliveries: Sequence[Delivery], accepted: Accepted) -> Sent:
        """Carry `deliveries` (in commit order); call `accepted` with each group it took."""
        ...


def sent_as(delivery: Delivery, invocation: str) -> AlertChange:
    """The change as a destination shows it: marked late when another invocation committed it."""
    if not delivery.late(invocation):
        return delivery.change
    return replace(delivery.change, late_since=key_time(delivery.at))


@dataclass(frozen=True)
class SlackDestination:
    """One Block Kit post for everything: all of it accepted or none."""

    report: Report
    settings: Settings
    session: boto3.Session
    invocation: str
    policy: slack.RetryPolicy | None = None
    deadline: float | None = None
    name: DestinationName = "slack"

    def payload(self, deliveries: Sequence[Delivery]) -> dict[str, Any]:
        return build_payload([sent_as(d, self.invocation) for d in deliveries], self.report)

    def send(self, deliveries: Sequence[Delivery], accepted: Accepted) -> Sent:
        try:
            url = slack.webhook_url(self.settings, self.session)
            if url is None:
                return Sent(reason=SLACK_OFF)
            policy = replace(self.policy or slack.DEFAULT_RETRY, deadline=self.deadline)
            slack.post(url, self.payload(deliveries), policy)
        except slack.SlackError as error:
            logger.error("Slack post failed: %s", error)
            return Sent(errors=(str(error),))
        except Exception as error:
            # Nothing about Slack may block SNS, and an unknown error's text may quote the URL.
            logger.error("Slack post failed: %s", type(error).__name__)
            return Sent(errors=(f"Slack post failed ({type(error).__name__})",))
        accepted(deliveries)
        return Sent(accepted=deliveries, count=len(deliveries))


@dataclass(frozen=True)
class SnsDestination:
    """PublishBatch in order; each batch's accepted messages reported as SNS answers it."""

    session: boto3.Session
    topic_arn: str
    invocation: str
    deadline: float | None = None
    name: DestinationName = "sns"

    def message(self, delivery: Delivery) -> SnsMessage:
        assert delivery.message is not None  # an SNS delivery always carries its message
        if delivery.late(self.invocation):
            return late(delivery.message, key_time(delivery.at))
        return SnsMessage(**delivery.message)

    def send(self, deliveries: Sequence[Delivery], accepted: Accepted) -> Sent:
        taken: list[Delivery] = []

        def on_batch(indexes: list[int]) -> None:
            batch = [deliveries[i] for i in indexes]
            taken.extend(batch)
            accepted(batch)

        result = publish(
            make_client(self.session, "sns"),
            self.topic_arn,
            [self.message(d) for d in deliveries],
            threads=[d.change.finding.id for d in deliveries],
            on_batch=on_batch,
            deadline=self.deadline,
        )
        if result.error:
            logger.error("SNS publish failed: %s", result.error)
        errors = (result.error,) if result.error else ()
        return Sent(taken, errors, "SNS did not accept it", count=len(taken))


@dataclass(frozen=True)
class SecurityHubDestination:
    """Every alerting finding's current state imported; this run's resolved ones archived."""

    report: Report
    settings: Settings
    session: boto3.Session
    now: datetime
    first_seen: Mapping[str, datetime]  # finding id -> when its alert opened (CreatedAt)
    name: DestinationName = "securityhub"

    def send(self, deliveries: Sequence[Delivery], accepted: Accepted) -> Sent:
        resolved = [d.change.finding for d in deliveries if d.change.change == "resolved"]
        imported = import_findings(
            self.report,
            resolved,
            self.settings,
            self.session,
            now=self.now,
            first_seen=self.first_seen,
        )
        taken = () if imported.errors else deliveries
        accepted(taken)
        return Sent(taken, imported.errors, count=imported.count)
