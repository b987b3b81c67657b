"""AWS answering a fifth of its requests with its own throttling error changes nothing: the same
report, stored and read back field for field."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
from faults.stand_ins import FaultyAws

from ipaudit.audit import run_audit
from ipaudit.pipeline import after_audit
from ipaudit.settings import Settings
from ipaudit.store.runs import load_run
from ipaudit_sim.article import REGION
from ipaudit_sim.world import World

AT = datetime(2026, 11, 27, 5, 0, tzinfo=UTC)
THROTTLED = {"ec2", "eks", "sts", "dynamodb", "organizations"}


def test_the_report_under_20_percent_throttling_equals_the_fault_free_one(
    world: World, faulty_aws: FaultyAws
) -> None:
    settings = Settings.from_env(world.env)
    clean = run_audit(settings, boto3.Session(region_name=REGION), run_id="r-clean", now=AT)
    assert clean.clusters and not [c for c in clean.coverage if c.status == "error"]

    faulty_aws.services = THROTTLED
    faulty_aws.share = 0.2
    session = boto3.Session(region_name=REGION)
    throttled = run_audit(settings, session, run_id="r-clean", now=AT)
    assert throttled == clean
    assert faulty_aws.throttled["ec2"] > 0 and faulty_aws.throttled["eks"] > 0

    outcome = after_audit(throttled, settings, session, notify=False, now=AT)
    assert outcome.stored and outcome.storage_error is None
    assert faulty_aws.throttled.get("dynamodb", 0) > 0
    faulty_aws.share = 0.0
    assert load_run(boto3.client("dynamodb"), settings.table or "", "r-clean") == outcome.report
