"""Posting to a Slack incoming webhook: retries, and a URL that never leaks.

The webhook URL is a credential. It comes from the setting or from Secrets Manager, and no log
line, exception or error string produced here contains it: requests' exceptions (which quote the
URL) are reduced to their type, Slack's answers to their status code, and urllib3's and
botocore's debug lines (which quote the path, or the secret) are kept off while the secret is
read and the webhook posted.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import requests
from aws_lambda_powertools.utilities import parameters
from requests.adapters import HTTPAdapter
from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import Retry

from ipaudit import redact
from ipaudit.audit.bounded import remaining
from ipaudit.aws.session import make_client
from ipaudit.settings import Settings, webhook_allowed

logger = logging.getLogger(__name__)


class SlackError(Exception):
    """Posting failed; the message is safe to log (it never holds the URL)."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    base_delay: float = 1.0  # seconds before the second attempt after a 5xx; doubles each time
    max_delay: float = 30.0  # cap on any wait, Retry-After included (a Lambda has a deadline)
    timeout: float = 10.0
    sleep: Callable[[float], None] = time.sleep
    # The run's deadline (time.monotonic()): no attempt or wait goes past it.
    deadline: float | None = None


class _OutOfTime(Exception):
    """The next attempt would start after the run's deadline."""


DEFAULT_RETRY = RetryPolicy()


def webhook_url(settings: Settings, session: boto3.Session) -> str | None:
    """The URL from the setting, else from the secret (read once per call); None if neither."""
    if settings.slack_webhook_url:
        redact.secret(settings.slack_webhook_url)
        return settings.slack_webhook_url
    if not settings.slack_secret_arn:
        return None
    provider = parameters.SecretsProvider(boto3_client=make_client(session, "secretsmanager"))
    try:
        with quiet_transport():  # botocore logs the GetSecretValue response at DEBUG
            value = provider.get(settings.slack_secret_arn, force_fetch=True)
    except parameters.exceptions.GetParameterError as error:
        cause = error.__cause__
        code = getattr(cause, "response", {}).get("Error", {}).get("Code", type(cause).__name__)
        raise SlackError(
            f"IPAUDIT_SLACK_SECRET_ARN: the secret could not be read ({code})"
        ) from None
    text = value.strip() if isinstance(value, str) else ""
    if "://" not in text and not text.startswith("{"):
        # The stack creates the secret with a placeholder until someone puts a URL in it.
        logger.info("IPAUDIT_SLACK_SECRET_ARN: the secret holds no webhook yet; Slack is off")
        return None
    url = _url_in(text)
    redact.secret(url)
    if url is None:
        raise SlackError(
            "IPAUDIT_SLACK_SECRET_ARN: the secret holds no https:// webhook URL "
            "(a plain URL, or JSON with 'webhook_url' or 'url'; http:// only on loopback)"
        )
    return url


def post(url: str, payload: dict[str, Any], policy: RetryPolicy | None = None) -> None:
    """POST the payload; 429 (after Retry-After), 5xx and connection errors are retried by
    urllib3's Retry on a requests Session; raise SlackError, whose text never holds the URL or
    anything Slack answered (a body can echo the request path)."""
    policy = policy or DEFAULT_RETRY
    left = remaining(policy.deadline)
    if left is not None and left <= 0:
        raise SlackError("Slack not tried: the run's deadline has passed")
    timeout = policy.timeout if left is None else min(policy.timeout, left)
    with requests.Session() as session, quiet_transport():
        adapter = HTTPAdapter(max_retries=_retry(policy))
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        try:
            response = session.post(
                url,
                data=json.dumps(payload),
                headers={"Content-Type": "application/json"},
                timeout=timeout,
            )
        except _OutOfTime:
            raise SlackError(
                "Slack asked to wait past the run's deadline: left for the next run"
            ) from None
        except requests.RequestException as error:
            raise SlackError(
                f"Slack unreachable ({_root(error)}) after {policy.attempts} attempts"
            ) from None
    if response.status_code < 300:
        return
    if response.status_code == 429 or response.status_code >= 500:
        raise SlackError(f"Slack answered {response.status_code} after {policy.attempts} attempts")
    # 4xx other than 429 (a revoked hook, a malformed message) will not heal.
    raise SlackError(f"Slack answered {response.status_code}: the webhook refused the message")


def _retry(policy: RetryPolicy) -> Retry:
    class PolicyRetry(Retry):
        """urllib3's Retry, waiting as the policy says (Retry-After capped, else backoff)."""

        def sleep(self, response: BaseHTTPResponse | None = None) -> None:
            retry_after = self.get_retry_after(response) if response is not None else None
            attempt = len(self.history)
            if retry_after is not None:
                delay = min(max(retry_after, 0.0), policy.max_delay)
            else:
                delay = min(policy.base_delay * 2 ** (attempt - 1), policy.max_delay)
            left = remaining(policy.deadline)
            if left is not None and delay >= left:
                raise _OutOfTime
            logger.warning("Slack: retrying in %.1f s (attempt %d)", delay, attempt)
            policy.sleep(float(delay))

    return PolicyRetry(
        total=policy.attempts - 1,
        allowed_methods=frozenset({"POST"}),
        status_forcelist=frozenset({429, *range(500, 600)}),
        respect_retry_after_header=True,
        raise_on_status=False,
        redirect=False,
    )


def _root(error: BaseException) -> str:
    """The innermost exception's type: its text would quote the URL."""
    cause: BaseException = error
    while True:
        inner = getattr(cause, "reason", None) or cause.__cause__
        if not isinstance(inner, BaseException) or inner is cause:
            return type(cause).__name__
        cause = inner


def _url_in(value: str) -> str | None:
    text = value.strip()
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except ValueError:
            return None
        if not isinstance(document, dict):
            return None
        text = str(document.get("webhook_url") or document.get("url") or "").strip()
    return text if webhook_allowed(text) else None


# Loggers that quote URLs or responses, and the lowest level each may log at meanwhile: urllib3
# quotes the request path (the webhook's secret) at DEBUG and in its WARNING about a retry,
# botocore the GetSecretValue response at DEBUG.
_TRANSPORT_LOGGERS = {"urllib3": logging.ERROR, "botocore": logging.INFO}


@contextmanager
def quiet_transport() -> Iterator[None]:
    """Keep the transport loggers quiet while a secret is read or used, whatever the root
    logger's level (a handler's own level is not enough: the record is still created)."""
    # Child loggers too: one set to DEBUG on its own ignores its parent's level.
    family = [
        (name, lowest)
        for name in [*_TRANSPORT_LOGGERS, *logging.root.manager.loggerDict]
        for root, lowest in _TRANSPORT_LOGGERS.items()
        if name == root or name.startswith(root + ".")
    ]
    saved = {name: logging.getLogger(name).level for name, _ in family}
    for name, lowest in family:
        chatty = logging.getLogger(name)
        if (chatty.level != logging.NOTSET and chatty.level < lowest) or name in _TRANSPORT_LOGGERS:
            chatty.setLevel(max(lowest, chatty.level))
    try:
        yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)
