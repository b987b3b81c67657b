"""Each bad input: one line naming the setting or field, exit 1, nothing written."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from faults.stand_ins import FaultyAws

from ipaudit.cli import main
from ipaudit.store.table import create_table
from ipaudit_sim.aws import MotoServer

TABLE = "ipaudit"


@pytest.fixture
def table(aws: boto3.Session, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    create_table(aws.client("dynamodb"), TABLE)
    monkeypatch.setenv("IPAUDIT_TABLE", TABLE)
    yield TABLE


def items(session: boto3.Session) -> int:
    return int(session.client("dynamodb").scan(TableName=TABLE, Select="COUNT")["Count"])


def one_error_line(capsys: pytest.CaptureFixture[str], names: str) -> None:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("ipaudit: error: ") and names in lines[0], lines[0]
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("IPAUDIT_RENOTIFY_HOURS", "nan"),
        ("IPAUDIT_RENOTIFY_HOURS", "inf"),
        ("IPAUDIT_RENOTIFY_HOURS", "1e300"),
        ("IPAUDIT_KUBE_ENDPOINTS", "prod=https://[::1"),
        ("IPAUDIT_SLACK_WEBHOOK_URL", "https://[::1/services/x"),
        ("IPAUDIT_ACCOUNTS", " , ,"),
        ("IPAUDIT_EXTERNAL_ID", "x"),
        ("IPAUDIT_EXTERNAL_ID", "has spaces in it"),
        ("IPAUDIT_EXTERNAL_ID", "e" * 1225),
        ("IPAUDIT_MUTES", "[" * 100_000 + "]" * 100_000),
        ("IPAUDIT_MUTES", "[" + "9" * 5000 + "]"),
    ],
)
def test_a_bad_setting_is_one_line_exit_1_and_nothing_written(
    aws: boto3.Session,
    table: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variable: str,
    value: str,
) -> None:
    monkeypatch.setenv(variable, value)
    assert main(["audit"]) == 1
    one_error_line(capsys, variable)
    assert items(aws) == 0


@pytest.mark.parametrize(
    ("flag", "variable"),
    [("--accounts", "IPAUDIT_ACCOUNTS"), ("--external-id", "IPAUDIT_EXTERNAL_ID")],
)
def test_the_same_values_as_flags_are_refused_the_same_way(
    aws: boto3.Session,
    table: str,
    capsys: pytest.CaptureFixture[str],
    flag: str,
    variable: str,
) -> None:
    assert main(["audit", f"{flag}= , ,"]) == 1
    one_error_line(capsys, variable)
    assert items(aws) == 0


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"instance": {"max_enis": 3, "ipv4_per_eni": 10}, "steps": [' + "9" * 5000 + "]}",
    ],
    ids=["nested-100k-deep", "a-5000-digit-integer"],
)
def test_a_pathological_scenario_is_one_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str
) -> None:
    scenario = tmp_path / "scenario.json"
    scenario.write_text(text)
    assert main(["simulate", str(scenario)]) == 1
    one_error_line(capsys, "scenario")


def test_a_transient_throttle_on_get_caller_identity_is_not_a_credentials_problem(
    aws: boto3.Session,
    moto_server: MotoServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    proxy = FaultyAws(moto_server.url)
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        proxy.throttle_next["sts"] = 2
        assert main(["audit", "--output", "json"]) == 0
        assert proxy.throttled == {"sts": 2}
        report = json.loads(capsys.readouterr().out)
        assert [c["status"] for c in report["coverage"]] == ["ok"]
    finally:
        proxy.stop()


def test_get_token_for_an_empty_cluster_name_fails_in_one_line(
    aws: boto3.Session, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["get-token", "--cluster-name", ""]) == 1
    assert capsys.readouterr().out == ""  # no token for no cluster
    main(["get-token", "--cluster-name", ""])
    one_error_line(capsys, "--cluster-name")


@pytest.mark.parametrize(
    ("field", "value"),
    [("pods", "30"), ("ips_held", None), ("ips_held", -5), ("warm_ips", "lots")],
)
@pytest.mark.parametrize("question", [["--add-pods", "5"], ["--check", '{"WARM_IP_TARGET": 1}']])
def test_a_stored_report_with_a_bad_count_is_refused_before_what_if_reads_it(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    field: str,
    value: object,
    question: list[str],
) -> None:
    from support.reports import cluster, report, subnet

    document = report([cluster(subnets=[subnet(free=50)])]).to_dict()
    document["clusters"][0][field] = value
    path = tmp_path / "report.json"
    path.write_text(json.dumps(document))
    code = main(["what-if", "--report", str(path), "--cluster", "prod", *question])
    assert code == 1  # never 0 "fits", never a traceback
    one_error_line(capsys, f"report.clusters[0].{field}")
