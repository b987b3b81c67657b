"""The webhook URL appears in no output, log line, summary or stored item, whatever fails, with
every logger at DEBUG."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import replace

import boto3
import pytest
from pytest_httpserver import HTTPServer
from support.reports import REGION, T0, cluster, report, subnet
from werkzeug import Request, Response

from ipaudit import redact
from ipaudit.aws.session import caller_account, make_client, target_session
from ipaudit.cli import main
from ipaudit.cli.audit import delivery_lines
from ipaudit.notify import slack
from ipaudit.pipeline import after_audit
from ipaudit.settings import Settings
from ipaudit.store.table import create_table

TABLE = "ipaudit"
TOKEN = "xoxb-faults-very-secret-token"
HOOK = f"/services/T0001/B0001/{TOKEN}"


def echo_the_path(request: Request) -> Response:
    # Some endpoints (and proxies) quote the request back in an error page.
    return Response(f"no_service: {request.path}", status=404)


def close_the_connection(request: Request) -> Response:
    raise ConnectionAbortedError(f"dropped {request.path}")


FAILURES = {
    "a 4xx echoing the path": lambda server: server.expect_request(HOOK).respond_with_handler(
        echo_the_path
    ),
    "a 500": lambda server: server.expect_request(HOOK).respond_with_data(HOOK, status=500),
    "a 429 quoting the path": lambda server: server.expect_request(HOOK).respond_with_data(
        HOOK, status=429, headers={"Retry-After": "1"}
    ),
    "a dropped connection": lambda server: server.expect_request(HOOK).respond_with_handler(
        close_the_connection
    ),
}


@pytest.fixture
def every_logger_at_debug() -> Iterator[None]:
    saved = {name: logging.getLogger(name).level for name in logging.root.manager.loggerDict}
    root = logging.getLogger().level
    logging.getLogger().setLevel(logging.DEBUG)
    for name in saved:
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield
    logging.getLogger().setLevel(root)
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


@pytest.mark.parametrize("failure", list(FAILURES))
@pytest.mark.parametrize("source", ["setting", "secret"])
def test_no_failure_puts_the_webhook_anywhere(
    aws: boto3.Session,
    httpserver: HTTPServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    every_logger_at_debug: None,
    failure: str,
    source: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setattr(slack, "DEFAULT_RETRY", slack.RetryPolicy(sleep=lambda _: None))
    create_table(aws.client("dynamodb"), TABLE)
    url = httpserver.url_for(HOOK)
    settings = Settings(table=TABLE, slack_webhook_url=url)
    if source == "secret":
        arn = aws.client("secretsmanager").create_secret(
            Name="ipaudit/slack", SecretString=json.dumps({"webhook_url": url})
        )["ARN"]
        settings = replace(settings, slack_webhook_url=None, slack_secret_arn=arn)
    FAILURES[failure](httpserver)
    caplog.clear()  # the test's own setup logged the secret it created
    capsys.readouterr()

    rep = report([cluster(subnets=[subnet(free=50)])], run_id="r1", at=T0)
    outcome = after_audit(rep, settings, aws, now=T0)

    assert outcome.slack_error and not outcome.slack_posted
    assert httpserver.log or failure == "a dropped connection"  # the endpoint was really asked
    stored = aws.client("dynamodb").scan(TableName=TABLE)["Items"]
    ours = [r.getMessage() for r in caplog.records if r.name != "werkzeug"]  # not the stand-in's
    out = capsys.readouterr()
    places = {
        "stored items": json.dumps(stored),
        "log": "\n".join(ours),
        "summary": json.dumps(outcome.summary()),
        "terminal lines": "\n".join(delivery_lines(outcome)),
        "stdout and stderr": out.out + out.err,
        "the outcome": repr(outcome),
    }
    for place, text in places.items():
        assert TOKEN not in text, place


def test_a_secret_whose_url_is_plain_http_to_another_host_is_refused(
    aws: boto3.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_table(aws.client("dynamodb"), TABLE)
    arn = aws.client("secretsmanager").create_secret(
        Name="ipaudit/slack", SecretString=f"http://hooks.example.com{HOOK}"
    )["ARN"]
    settings = Settings(table=TABLE, slack_secret_arn=arn)
    rep = report([cluster(subnets=[subnet(free=50)])], run_id="r1", at=T0)
    outcome = after_audit(rep, settings, aws, now=T0)
    assert outcome.slack_error is not None and "http:// only on loopback" in outcome.slack_error
    assert TOKEN not in outcome.slack_error
    assert outcome.delivery_failed  # and the announcement stays pending


CALLER_TOKEN = "FwoGZXIvYXdzEBcaDcallerSessionTokenNeverLogged0123456789"


def test_no_credential_is_logged_even_with_botocore_at_debug(
    aws: boto3.Session,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    every_logger_at_debug: None,
) -> None:
    """botocore at DEBUG logs AssumeRole's answer and every request's headers."""
    redact.install()  # what `ipaudit` and the Lambda handler do first
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("AWS_SESSION_TOKEN", CALLER_TOKEN)
    caller = boto3.Session(region_name=REGION)
    member = target_session(
        caller,
        "222222222222",
        caller_account=caller_account(caller),
        role_name="IpAuditReadOnly",
        external_id=None,
        region=REGION,
    )
    make_client(member, "ec2").describe_vpcs()

    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "AssumeRole" in logged and "<SecretAccessKey>REDACTED</SecretAccessKey>" in logged
    assert re.search(r"<SecretAccessKey>(?!REDACTED<)", logged) is None
    assert re.search(r"<SessionToken>(?!REDACTED<)", logged) is None
    assert "X-Amz-Security-Token" in logged  # the headers were logged, the token was not
    assert CALLER_TOKEN not in logged
    credentials = member.get_credentials()
    assert credentials is not None
    frozen = credentials.get_frozen_credentials()
    assert frozen.secret_key not in logged and frozen.token not in logged


def test_a_mistyped_webhook_flag_never_echoes_its_value(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as ended:
        main(["audit", "--slack-webhook-urls", f"hooks.example.com{HOOK}"])
    assert ended.value.code == 2
    err = capsys.readouterr().err
    assert "--slack-webhook-urls" in err and TOKEN not in err and "hooks.example.com" not in err
