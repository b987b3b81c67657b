"""Real botocore clients whose answers come from a Stubber instead of the network."""

from __future__ import annotations

from typing import Any

import boto3

REGION = "eu-west-1"


# One session for every stubbed client: its loader caches the service models, which take far
# longer to parse than any test takes to run. Explicit fake credentials and endpoints keep the
# developer's environment out; the Stubber answers before anything is signed or sent.
_SESSION = boto3.Session(
    aws_access_key_id="testing",
    aws_secret_access_key="testing",
    aws_session_token="testing",
    region_name=REGION,
)


def stubbed_client(service: str) -> Any:
    return _SESSION.client(service, endpoint_url=f"https://{service}.{REGION}.amazonaws.com")


def session_with(region_name: str | None = REGION, **clients: Any) -> Any:
    """A stand-in for a boto3.Session that hands out prepared (stubbed) clients by service name."""
    return _PreparedSession(region_name, clients)


class _PreparedSession:
    def __init__(self, region_name: str | None, clients: dict[str, Any]) -> None:
        self.region_name = region_name
        self._clients = clients

    def client(self, service: str, **_: Any) -> Any:
        return self._clients[service]

    def get_partition_for_region(self, region: str) -> str:
        return _SESSION.get_partition_for_region(region)
