"""The fan-out state machine's three steps, invoked as Step Functions invokes their Lambdas, on
the simulated organization: targets in S3, a batch's cluster reports in S3, then the one report,
stored and announced exactly as the single-function audit does."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from ipaudit.audit import run_audit

# Imported once, before any test captures output: Powertools' Logger keeps the stream it saw.
from ipaudit.fanout.handler import aggregate_handler, audit_batch_handler, list_targets_handler
from ipaudit.fanout.steps import BATCH_FAILED
from ipaudit.pipeline import after_audit
from ipaudit.settings import Settings, SettingsError
from ipaudit_sim.article import OTHER_REGION, REGION
from ipaudit_sim.world import World, article_world
from tests.integration.lambda_context import FakeContext

BUCKET = "ipaudit-fanout-results"
# The article's shop-prod and tools, and the shapes beside them: payments and batch.
CLUSTERS = ["batch", "payments", "search", "shop-prod", "tools"]
STARTED = "2026-11-27T04:00:00.123Z"


@dataclass
class Fanout:
    world: World
    queue_url: str

    @property
    def s3(self) -> Any:
        return self.world.session.client("s3")

    def object(self, key: str) -> Any:
        return json.loads(self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())

    def keys(self, prefix: str) -> list[str]:
        listed = self.s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
        return sorted(entry["Key"] for entry in listed.get("Contents", []))

    def sns_messages(self) -> list[dict[str, Any]]:
        sqs = self.world.session.client("sqs")
        messages = []
        while batch := sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get(
            "Messages"
        ):
            for message in batch:
                messages.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return messages


@pytest.fixture(scope="module")
def fanout() -> Iterator[Fanout]:
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith(("AWS_", "IPAUDIT_"))]:
            patch.delenv(name)
        with article_world(os.environ) as world:
            for name, value in world.env.items():
                patch.setenv(name, value)
            patch.setenv("IPAUDIT_FANOUT_BUCKET", BUCKET)
            world.session.client("s3").create_bucket(
                Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
            )
            sqs = world.session.client("sqs")
            queue_url = sqs.create_queue(QueueName="on-call")["QueueUrl"]
            queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
            world.session.client("sns").subscribe(
                TopicArn=world.env["IPAUDIT_SNS_TOPIC_ARN"],
                Protocol="sqs",
                Endpoint=queue_arn["Attributes"]["QueueArn"],
                Attributes={"RawMessageDelivery": "true"},
            )
            yield Fanout(world, queue_url)


def execution(name: str) -> dict[str, Any]:
    """What the state machine passes the list and aggregate steps: its context object's
    Execution.Name and Execution.StartTime."""
    return {"execution": {"name": name, "started_at": STARTED}}


def map_batches(fanout: Fanout, listed: dict[str, Any], size: int) -> list[dict[str, Any]]:
    """What the Distributed Map's ItemReader and ItemBatcher hand each child: the targets file
    read from S3, cut into batches of `size`, each with the run id as BatchInput."""
    items = fanout.object(listed["targets_key"])
    return [
        {
            "BatchInput": {"run_id": listed["run_id"], "generated_at": listed["generated_at"]},
            "Items": items[start : start + size],
        }
        for start in range(0, len(items), size)
    ]


def run_fanout(
    fanout: Fanout, name: str, *, size: int = 3, lost: Sequence[int] = ()
) -> dict[str, Any]:
    """One execution: list, every batch but the `lost` ones (their invocation failed), aggregate."""
    listed = list_targets_handler(execution(name), FakeContext())  # type: ignore[arg-type]
    for index, batch in enumerate(map_batches(fanout, listed, size)):
        if index not in lost:
            audit_batch_handler(batch, FakeContext())  # type: ignore[arg-type]
    summary: dict[str, Any] = aggregate_handler(execution(name), FakeContext())  # type: ignore[arg-type]
    return summary


def test_listing_writes_every_account_and_region_for_the_map(fanout: Fanout) -> None:
    listed = list_targets_handler(execution("list-only"), FakeContext())  # type: ignore[arg-type]

    organization = fanout.world.organization
    assert listed["run_id"] == "20261127T040000Z-list-only"
    assert listed["generated_at"] == "2026-11-27T04:00:00Z"
    assert listed["bucket"] == BUCKET and listed["targets"] == 4
    accounts = sorted([organization.management_account, organization.prod_account])
    assert fanout.object(listed["targets_key"]) == [
        {"account_id": account, "region": region}
        for account in accounts
        for region in (REGION, OTHER_REGION)
    ]


def test_a_batch_writes_each_of_its_targets_cluster_reports_to_s3(fanout: Fanout) -> None:
    listed = list_targets_handler(execution("one-batch"), FakeContext())  # type: ignore[arg-type]
    (batch,) = map_batches(fanout, listed, size=4)

    summary = audit_batch_handler(batch, FakeContext())  # type: ignore[arg-type]

    assert summary == {
        "run_id": listed["run_id"],
        "targets": 4,
        "clusters": 5,
        "coverage_errors": 0,
    }
    prod = fanout.world.organization.prod_account
    part = fanout.object(f"runs/{listed['run_id']}/targets/{prod}/{REGION}.json")
    (shop,) = [c for c in part["clusters"] if c["name"] == "shop-prod"]
    assert shop["name"] == "shop-prod" and shop["pods"] == 1200 and shop["ips_held"] == 2938
    assert sorted(s["free"] for s in shop["subnets"]) == [0, 0, 109]
    assert {f["kind"] for f in part["findings"] if f["cluster"] == "shop-prod"} == {
        "subnet_headroom",
        "pods_without_addresses",
        "leaked_enis",
        "warm_pool_waste",
        "scale_ceiling",
    }
    assert [(c["cluster"], c["status"]) for c in part["coverage"]] == [
        ("batch", "ok"),
        ("payments", "ok"),
        ("search", "ok"),
        ("shop-prod", "ok"),
    ]
    quiet = fanout.object(f"runs/{listed['run_id']}/targets/{prod}/{OTHER_REGION}.json")
    assert quiet["clusters"] == [] and quiet["coverage"][0]["status"] == "ok"


def test_the_aggregate_builds_the_report_stores_it_and_alerts(
    fanout: Fanout, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = run_fanout(fanout, "first-run")

    run_id = "20261127T040000Z-first-run"
    assert summary["run_id"] == run_id and summary["clusters"] == 5
    assert summary["coverage_errors"] == 0 and summary["findings"]["CRITICAL"] == 4
    assert summary["stored"] is True
    assert summary["sns_published"] == summary["changes"]["new"] > 0
    messages = fanout.sns_messages()
    assert len(messages) == summary["sns_published"]
    assert all(message["run_id"] == run_id for message in messages)
    report = fanout.object(f"runs/{run_id}/report.json")
    assert sorted(c["name"] for c in report["clusters"]) == CLUSTERS
    assert report["findings"][0]["severity"] == "CRITICAL"
    run = fanout.world.session.client("dynamodb").get_item(
        TableName=fanout.world.env["IPAUDIT_TABLE"],
        Key={"pk": {"S": f"RUN#{run_id}"}, "sk": {"S": "RUN"}},
    )
    assert run["Item"]["generated_at"]["S"] == "2026-11-27T04:00:00Z"
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line]
    assert [r["CoverageErrors"] for r in records if "CoverageErrors" in r] == [[0.0]]


def test_a_redriven_execution_is_the_same_run_and_announces_nothing_twice(fanout: Fanout) -> None:
    first = run_fanout(fanout, "redriven")
    fanout.sns_messages()

    again = aggregate_handler(execution("redriven"), FakeContext())  # type: ignore[arg-type]

    assert again["run_id"] == first["run_id"] and again["stored"] is True
    assert again["findings"] == first["findings"]
    assert again["sns_published"] == 0 and fanout.sns_messages() == []


def test_a_failed_batch_costs_its_targets_coverage_not_the_run(fanout: Fanout) -> None:
    summary = run_fanout(fanout, "lost-batch", size=3, lost=[1])  # the fourth target's batch

    run_id = "20261127T040000Z-lost-batch"
    report = fanout.object(f"runs/{run_id}/report.json")
    organization = fanout.world.organization
    last = max(organization.management_account, organization.prod_account)
    lost = [c for c in report["coverage"] if c["status"] == "error"]
    assert lost == [
        {
            "account_id": last,
            "region": OTHER_REGION,
            "cluster": None,
            "status": "error",
            "error": BATCH_FAILED,
            "notes": [],
        }
    ]
    assert sorted(c["name"] for c in report["clusters"]) == CLUSTERS
    assert summary["coverage_errors"] == 1 and summary["stored"] is True
    coverage_findings = [f for f in report["findings"] if f["kind"] == "coverage"]
    assert [f["severity"] for f in coverage_findings] == ["WARNING"]


def test_the_fan_out_report_equals_the_single_function_report(
    fanout: Fanout, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No table and no topic: neither run sees the other's history or alert state.
    monkeypatch.delenv("IPAUDIT_TABLE")
    monkeypatch.delenv("IPAUDIT_SNS_TOPIC_ARN")
    session = boto3.Session()
    settings = Settings.from_env(os.environ)
    single = after_audit(run_audit(settings, session), settings, session).report.to_dict()

    run_fanout(fanout, "same-report", size=1)
    fanned = fanout.object("runs/20261127T040000Z-same-report/report.json")

    for report in (single, fanned):
        del report["run_id"], report["generated_at"]
    assert fanned == json.loads(json.dumps(single))
    assert len(fanned["clusters"]) == 5 and fanned["findings"]


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_a_step_without_its_bucket_fails_before_anything_is_written(
    fanout: Fanout, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("IPAUDIT_FANOUT_BUCKET")
    with pytest.raises(SettingsError, match=r"^IPAUDIT_FANOUT_BUCKET: not set"):
        list_targets_handler(execution("no-bucket"), FakeContext())  # type: ignore[arg-type]
    assert fanout.keys("runs/20261127T040000Z-no-bucket/") == []
