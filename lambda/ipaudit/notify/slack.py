"""Posting to a Slack incoming webhook: retries, and a URL that never leaks.

The webhook URL is a credential. It comes from the setting or from Secrets Manager, and no log
line, exception or error string produced here contains it: requests' exceptions (which quote the
URL) are reduced to their type, and urllib3's debug lines (which quote the path) are muted while
posting.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import boto3
import requests
from aws_lambda_powertools.utilities import parameters

from ipaudit.aws.session import make_client
from ipaudit.settings import Settings

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


DEFAULT_RETRY = RetryPolicy()


def webhook_url(settings: Settings, session: boto3.Session) -> str | None:
    """The URL from the setting, else from the secret (read once per call); None if neither."""
    if settings.slack_webhook_url:
        return settings.slack_webhook_url
    if not settings.slack_secret_arn:
        return None
    provider = parameters.SecretsProvider(boto3_client=make_client(session, "secretsmanager"))
    try:
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
    if url is None:
        raise SlackError(
            "IPAUDIT_SLACK_SECRET_ARN: the secret holds no https:// webhook URL "
            "(a plain URL, or JSON with 'webhook_url' or 'url')"
        )
    return url


def post(url: str, payload: dict[str, Any], policy: RetryPolicy | None = None) -> None:
    """POST the payload; retry 429 (after Retry-After) and 5xx (with backoff); raise SlackError."""
    policy = policy or DEFAULT_RETRY
    body = json.dumps(payload)
    failure = ""
    for attempt in range(1, policy.attempts + 1):
        try:
            with _urllib3_muted():
                response = requests.post(
                    url,
                    data=body,
                    headers={"Content-Type": "application/json"},
                    timeout=policy.timeout,
                )
        except requests.RequestException as error:
            failure = f"Slack unreachable ({type(error).__name__})"
            delay = _backoff(policy, attempt)
        else:
            if response.status_code < 300:
                return
            failure = f"Slack answered {response.status_code}"
            if response.status_code == 429:
                delay = _retry_after(response, policy, attempt)
            elif response.status_code >= 500:
                delay = _backoff(policy, attempt)
            else:
                # 4xx other than 429 (a revoked hook, a malformed message) will not heal.
                raise SlackError(f"{failure}: {response.text[:200]}")
        if attempt < policy.attempts:
            logger.warning("%s; retrying in %.1f s (attempt %d)", failure, delay, attempt)
            policy.sleep(delay)
    raise SlackError(f"{failure} after {policy.attempts} attempts")


def _backoff(policy: RetryPolicy, attempt: int) -> float:
    return float(min(policy.base_delay * 2 ** (attempt - 1), policy.max_delay))


def _retry_after(response: requests.Response, policy: RetryPolicy, attempt: int) -> float:
    try:
        return min(max(float(response.headers["Retry-After"]), 0.0), policy.max_delay)
    except (KeyError, ValueError):
        return _backoff(policy, attempt)


def _url_in(value: str) -> str | None:
    text = value.strip()
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except ValueError:
            return None
        text = str(document.get("webhook_url") or document.get("url") or "")
    parsed = urlparse(text)
    return text if parsed.scheme in ("https", "http") and parsed.hostname else None


@contextmanager
def _urllib3_muted() -> Iterator[None]:
    # urllib3 logs the request line, the webhook's secret path included, at DEBUG.
    pool_logger = logging.getLogger("urllib3.connectionpool")
    level = pool_logger.level
    pool_logger.setLevel(max(level, logging.INFO))
    try:
        yield
    finally:
        pool_logger.setLevel(level)
