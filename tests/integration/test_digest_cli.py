"""`ipaudit digest` and `ipaudit init-table` as a user runs them, against the moto server."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from support.reports import cluster, report, subnet

from ipaudit.cli import main
from ipaudit.settings import Settings
from ipaudit.store.table import create_table
from ipaudit_sim.history_seed import seed_history

TABLE = "ipaudit-cli"


@pytest.fixture
def seeded(aws: boto3.Session) -> Settings:
    create_table(aws.client("dynamodb"), TABLE)
    settings = Settings(table=TABLE)
    # The command reports on the week before the real now.
    today = report([cluster(subnets=[subnet("subnet-a", free=60)])], at=datetime.now(UTC))
    seed_history(today, settings, aws)
    return settings


def test_ipaudit_digest_writes_the_html_for_a_browser(
    seeded: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "digest.html"
    assert main(["digest", "--table", TABLE, "--html", str(target)]) == 0
    html = target.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "subnet-a" in html
    out = capsys.readouterr().out
    assert "ipaudit weekly summary" in out and f"wrote {target}" in out


def test_ipaudit_init_table_creates_the_table_once(
    aws: boto3.Session, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init-table", "--table", "fresh-table"]) == 0
    assert main(["init-table", "--table", "fresh-table"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("table fresh-table created")
    assert out[1].startswith("table fresh-table already exists")
    assert "fresh-table" in aws.client("dynamodb").list_tables()["TableNames"]


def test_ipaudit_digest_without_a_table_is_one_line_and_exit_1(
    aws: boto3.Session, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["digest"]) == 1
    assert capsys.readouterr().err == (
        "ipaudit: error: IPAUDIT_TABLE: not set; the digest is built from the stored history\n"
    )
