"""Posting to a local HTTP endpoint standing in for Slack: retries, and a URL that never leaks."""

from __future__ import annotations

import logging

import pytest
from pytest_httpserver import HTTPServer

from ipaudit.notify.slack import RetryPolicy, SlackError, post

PATH = "/services/T000/B000/s3cr3tTOKEN"


def client_log(caplog: pytest.LogCaptureFixture) -> str:
    """What our side logged; the stand-in server (werkzeug) logs its own request lines."""
    return "\n".join(r.getMessage() for r in caplog.records if r.name != "werkzeug")


def policy(waits: list[float]) -> RetryPolicy:
    return RetryPolicy(attempts=3, base_delay=1.0, sleep=waits.append)


def test_429_then_200_waits_as_long_as_retry_after_says(httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request(PATH, method="POST").respond_with_data(
        "rate_limited", status=429, headers={"Retry-After": "7"}
    )
    httpserver.expect_ordered_request(PATH, method="POST").respond_with_data("ok")
    waits: list[float] = []
    post(httpserver.url_for(PATH), {"text": "hi"}, policy(waits))
    assert waits == [7.0]
    assert len(httpserver.log) == 2
    assert httpserver.log[1][0].get_json() == {"text": "hi"}


def test_5xx_backs_off_then_fails_with_a_message_free_of_the_url(
    httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    httpserver.expect_request(PATH).respond_with_data("boom", status=500)
    waits: list[float] = []
    caplog.set_level(logging.DEBUG)
    with pytest.raises(SlackError) as raised:
        post(httpserver.url_for(PATH), {"text": "hi"}, policy(waits))
    assert waits == [1.0, 2.0]
    assert len(httpserver.log) == 3
    assert "500" in str(raised.value)
    assert "s3cr3tTOKEN" not in str(raised.value)
    assert "s3cr3tTOKEN" not in client_log(caplog)


def test_a_rejected_webhook_is_not_retried(httpserver: HTTPServer) -> None:
    httpserver.expect_request(PATH).respond_with_data("no_service", status=404)
    waits: list[float] = []
    with pytest.raises(SlackError, match="404"):
        post(httpserver.url_for(PATH), {"text": "hi"}, policy(waits))
    assert waits == []


def test_an_unreachable_endpoint_fails_without_quoting_the_url(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    waits: list[float] = []
    with pytest.raises(SlackError) as raised:
        post(f"http://127.0.0.1:9{PATH}", {"text": "hi"}, policy(waits))
    assert "unreachable" in str(raised.value)
    assert "s3cr3tTOKEN" not in str(raised.value) + client_log(caplog)
