"""SNS: one message per new, escalated or resolved finding, with attributes to filter on.

Reminders go to Slack only: SNS subscribers (pagers, ticket systems) act on changes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from ipaudit.alerts.lifecycle import AlertChange
from ipaudit.audit.bounded import remaining
from ipaudit.aws.error_line import one_line
from ipaudit.report import ClusterReport, Report
from ipaudit.report_codec import encode
from ipaudit.words import plural

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sns.type_defs import PublishBatchRequestEntryTypeDef

MAX_SUBJECT = 99  # SNS allows fewer than 100 characters
BATCH = 10  # PublishBatch's limit
PUBLISHED_CHANGES = frozenset({"new", "escalated", "resolved"})
NO_CLUSTER = "-"  # attribute values cannot be empty; account-level findings name no cluster


@dataclass(frozen=True)
class SnsMessage:
    subject: str
    body: dict[str, Any]
    attributes: dict[str, str]

    def entry(self, entry_id: str) -> PublishBatchRequestEntryTypeDef:
        return {
            "Id": entry_id,
            "Subject": self.subject,
            "Message": json.dumps(self.body, sort_keys=True),
            "MessageAttributes": {
                name: {"DataType": "String", "StringValue": value}
                for name, value in self.attributes.items()
            },
        }


def build_messages(changes: Sequence[AlertChange], report: Report) -> list[SnsMessage]:
    clusters: dict[tuple[str, str, str | None], ClusterReport] = {
        (c.account_id, c.region, c.name): c for c in report.clusters
    }
    messages = []
    for change in changes:
        if change.change not in PUBLISHED_CHANGES:
            continue
        finding = change.finding
        cluster = clusters.get((finding.account_id, finding.region, finding.cluster))
        summary = None
        if cluster is not None:
            summary = encode(cluster)
            del summary["nodes"]  # a cluster's node list can exceed SNS's 256 KB
            del summary["recommendation"]
        recommendation = None if cluster is None else cluster.recommendation
        messages.append(
            SnsMessage(
                subject=_subject(change),
                body={
                    "change": change.change,
                    "previous_severity": change.previous_severity,
                    "finding": encode(finding),
                    "cluster": summary,
                    "recommendation": (None if recommendation is None else encode(recommendation)),
                    "run_id": report.run_id,
                    "generated_at": report.generated_at,
                    "late": False,
                },
                attributes={
                    "severity": finding.severity,
                    "account_id": finding.account_id,
                    "region": finding.region,
                    "cluster": finding.cluster or NO_CLUSTER,
                    "kind": finding.kind,
                    "change": change.change,
                },
            )
        )
    return messages


@dataclass(frozen=True)
class Published:
    accepted: list[int]  # indexes into the messages given, in order
    error: str | None = None  # the first failure; the rest of the messages were not accepted


def publish(
    client: SNSClient,
    topic_arn: str,
    messages: Sequence[SnsMessage],
    *,
    threads: Sequence[str] | None = None,
    on_batch: Callable[[list[int]], None] = lambda accepted: None,
    deadline: float | None = None,
) -> Published:
    """Publish in batches of up to ten, in order; which messages SNS accepted, and the first
    failure if any. `on_batch` hears each batch's accepted indexes as soon as SNS answers, so
    what it accepted is marked before anything else can go wrong.

    `threads` (one key per message, e.g. the finding) keeps each thread's messages in order: no
    batch carries two messages of one thread (SNS may accept the later one and refuse the
    earlier), and a batch with any failure ends publishing, so a later change never arrives
    before an earlier one that is still pending. What was not accepted stays pending.
    """
    accepted: list[int] = []
    failures: list[str] = []
    for batch in _batches(
        threads if threads is not None else [str(i) for i in range(len(messages))]
    ):
        if remaining(deadline) == 0:
            failures.append("the run's deadline came before this batch; left for the next run")
            break
        try:
            response = client.publish_batch(
                TopicArn=topic_arn,
                PublishBatchRequestEntries=[messages[i].entry(str(i)) for i in batch],
            )
        except (ClientError, BotoCoreError) as error:
            failures.append(one_line(error))
            break
        taken = [int(entry["Id"]) for entry in response.get("Successful", [])]
        accepted.extend(taken)
        on_batch(taken)
        failures.extend(f"{f['Code']}: {f.get('Message', '')}" for f in response.get("Failed", []))
        if failures:
            break
    if failures:
        failed = len(messages) - len(accepted)
        return Published(
            accepted, f"{failed} of {plural(len(messages), 'SNS message')} failed: {failures[0]}"
        )
    return Published(accepted)


def _batches(threads: Sequence[str]) -> list[list[int]]:
    """Consecutive runs of indexes, at most BATCH long, no thread twice in one."""
    batches: list[list[int]] = []
    current: list[int] = []
    for index, thread in enumerate(threads):
        if len(current) == BATCH or any(threads[i] == thread for i in current):
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches


def late(message: dict[str, Any], found_at: str) -> SnsMessage:
    """A message as first built, re-sent by a later run: the body says it is late."""
    return SnsMessage(
        subject=message["subject"],
        body={**message["body"], "late": True, "found_at": found_at},
        attributes=message["attributes"],
    )


def _subject(change: AlertChange) -> str:
    finding = change.finding
    where = "/".join(p for p in (finding.account_id, finding.region, finding.cluster) if p)
    verb = "RESOLVED" if change.change == "resolved" else f"{finding.severity} {change.change}"
    subject = f"ipaudit {verb}: {finding.kind} {finding.resource} in {where}"
    # Subjects must be one line of printable ASCII.
    subject = "".join(ch if " " <= ch <= "~" else "?" for ch in subject)
    return subject if len(subject) <= MAX_SUBJECT else subject[: MAX_SUBJECT - 1] + "~"
