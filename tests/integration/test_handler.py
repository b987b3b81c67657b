"""The Lambda entry points, invoked as Lambda invokes them, on the simulated organization."""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

# Imported once, before any test captures output: Powertools' Logger keeps the stream it saw.
from ipaudit.handler import audit_handler, digest_handler
from ipaudit.settings import SettingsError
from ipaudit_sim.world import DEMO_TABLE, World, article_world
from tests.integration.lambda_context import FakeContext

SCHEDULED_EVENT = {"source": "aws.scheduler", "detail-type": "Scheduled Event", "detail": {}}


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith(("AWS_", "IPAUDIT_"))]:
            patch.delenv(name)
        with article_world(os.environ) as running:  # points os.environ at its moto server
            for name, value in running.env.items():
                patch.setenv(name, value)
            yield running


@pytest.fixture
def lambda_env(world: World) -> dict[str, str]:
    return dict(os.environ)


def emf_metrics(stdout: str) -> dict[str, list[dict[str, Any]]]:
    """Every Embedded Metric Format record printed, by metric name."""
    found: dict[str, list[dict[str, Any]]] = {}
    for line in stdout.splitlines():
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        record = json.loads(line)
        for directive in record["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                found.setdefault(metric["Name"], []).append(record)
    return found


def dimension_sets(records: list[dict[str, Any]]) -> list[set[str]]:
    """The distinct sets of dimension names of these records."""
    sets: list[set[str]] = []
    for record in records:
        for names in record["_aws"]["CloudWatchMetrics"][0]["Dimensions"]:
            if set(names) not in sets:
                sets.append(set(names))
    return sets


def value(record: dict[str, Any], name: str) -> float:
    raw = record[name]
    return float(raw[0] if isinstance(raw, list) else raw)


def test_the_audit_handler_audits_stores_and_emits_metrics(
    lambda_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    summary = audit_handler(SCHEDULED_EVENT, FakeContext())  # type: ignore[arg-type]

    # The article's shop-prod and tools, and the shapes beside them: payments, batch, search.
    assert summary["clusters"] == 5 and summary["coverage_errors"] == 0
    # Two exhausted subnets, the pods their nodes could not give an address, and search's
    # full node subnet (new nodes cannot launch in it).
    assert summary["findings"]["CRITICAL"] == 4 and summary["stored"] is True
    assert summary["sns_published"] == summary["changes"]["new"] > 0
    # One deadline for the whole run: the invocation's remaining time, less 5 s for returning;
    # the run records what it took of it.
    assert summary["deadline_seconds"] == 895.0
    assert summary["elapsed_seconds"] < summary["deadline_seconds"]
    metrics = emf_metrics(capsys.readouterr().out)
    free = sorted(value(r, "FreeAddresses") for r in metrics["FreeAddresses"])
    # shop-prod's two exhausted /22s and search's full node subnet, then shop-prod's third.
    assert free[:4] == [0, 0, 0, 109]
    assert all(
        r["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "IpAudit"
        for r in metrics["FreeAddresses"]
    )
    # The dimensions the dashboard's SEARCH expressions name (tests/infra/test_monitoring.py).
    assert dimension_sets(metrics["FreeAddresses"]) == [
        {"Account", "Region", "Cluster", "Subnet", "service"}
    ]
    assert dimension_sets(metrics["WarmAddresses"]) == [{"Account", "Region", "Cluster", "service"}]
    assert [value(r, "CoverageErrors") for r in metrics["CoverageErrors"]] == [0]
    [shop] = [r for r in metrics["WarmAddresses"] if r["Cluster"] == "shop-prod"]
    assert value(shop, "WarmAddresses") == 1640
    assert [value(r, "NotificationErrors") for r in metrics["NotificationErrors"]] == [0]


def test_a_retried_scheduled_invocation_is_the_same_run_and_announces_nothing_twice(
    lambda_env: dict[str, str],
) -> None:
    event = {**SCHEDULED_EVENT, "scheduled_time": "2026-11-27T05:00:00Z"}
    first = audit_handler(event, FakeContext())  # type: ignore[arg-type]
    retry = audit_handler(event, FakeContext())  # type: ignore[arg-type]
    assert first["run_id"] == retry["run_id"] == "20261127T050000Z-scheduled"
    assert retry["stored"] is True and retry["sns_published"] == 0
    assert sum(retry["changes"].values()) == 0 and retry["late_deliveries"] == 0


# The failed invocation has no metrics to flush; Powertools says so, and that is expected.
@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_a_bad_setting_fails_the_invocation_before_anything_is_written(
    lambda_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    items = boto3.client("dynamodb").scan(TableName=DEMO_TABLE, Select="COUNT")["Count"]
    monkeypatch.setenv("IPAUDIT_REGIONS", "moon-1")
    with pytest.raises(SettingsError, match="IPAUDIT_REGIONS: 'moon-1'"):
        audit_handler(SCHEDULED_EVENT, FakeContext())  # type: ignore[arg-type]
    assert boto3.client("dynamodb").scan(TableName=DEMO_TABLE, Select="COUNT")["Count"] == items


def test_the_digest_handler_mails_the_week_to_the_recipients(lambda_env: dict[str, str]) -> None:
    result = digest_handler({}, FakeContext(function_name="ipaudit-digest"))  # type: ignore[arg-type]

    assert result["recipients"] == 1 and result["subject"].startswith("ipaudit weekly summary")
    with urllib.request.urlopen(f"{lambda_env['AWS_ENDPOINT_URL']}/moto-api/data.json") as answer:
        [mail] = json.load(answer)["ses"]["Message"]
    assert mail["destinations"]["ToAddresses"] == ["platform-team@example.com"]
    assert mail["subject"] == result["subject"]
    assert "<table" in mail["body"]  # the HTML part
