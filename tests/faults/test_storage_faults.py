"""A table that fails after the audit costs what it holds (history, mutes, alert state), never
the report: `ipaudit audit` prints it and exits 5."""

from __future__ import annotations

import json

import pytest
from faults.stand_ins import FaultyAws

from ipaudit.aws import session as session_module
from ipaudit.cli import main
from ipaudit_sim.world import World


def test_a_table_whose_mutes_cannot_be_read_still_yields_the_report_and_exit_5(
    world: World,
    faulty_aws: FaultyAws,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(session_module, "ATTEMPTS", 1)  # botocore's retries spent at once
    faulty_aws.throttle_when = lambda service, body: service == "dynamodb" and b'"MUTES"' in body

    code = main(["audit", "--output", "json", "--no-notify"])

    out, err = capsys.readouterr()
    report = json.loads(out)
    assert {"shop-prod", "tools"} <= {c["name"] for c in report["clusters"]}
    assert code == 5
    assert "storage failed: DynamoDB failed reading history and mutes" in err
    assert "Traceback" not in err
    assert faulty_aws.throttled["dynamodb"] >= 1
