"""Shared fixtures: one moto server over HTTP for the whole run, wiped before each test, and
ipaudit's DynamoDB table in it. Builders of reports and other test support: tests/support/."""

from __future__ import annotations

import os
from collections.abc import Iterator

import boto3
import pytest
from mypy_boto3_dynamodb import DynamoDBClient

from ipaudit_sim.aws import MotoServer, point_environment_at

REGION = "eu-west-1"


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    server = MotoServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def aws(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[boto3.Session]:
    """A clean moto state and an environment whose boto3 calls all go to it."""
    moto_server.reset()
    for name in [n for n in os.environ if n.startswith(("AWS_", "IPAUDIT_"))]:
        monkeypatch.delenv(name, raising=False)
    env: dict[str, str] = {}
    point_environment_at(moto_server.url, REGION, env)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    yield boto3.Session(region_name=REGION)


# The table the store's tests use (a test module naming another sets its own TABLE).
TABLE = "ipaudit-test"


@pytest.fixture
def dynamodb(aws: boto3.Session, request: pytest.FixtureRequest) -> DynamoDBClient:
    """ipaudit's table, created in the clean moto state `aws` gives: named by the test
    module's `TABLE`, else "ipaudit-test"."""
    from ipaudit.store.table import create_table

    client = aws.client("dynamodb")
    create_table(client, getattr(request.module, "TABLE", TABLE))
    return client
