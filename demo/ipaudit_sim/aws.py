"""A moto server on loopback, reached over HTTP through AWS_ENDPOINT_URL like real AWS."""

from __future__ import annotations

import logging
import os
import urllib.request
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

# Credentials moto accepts; they never leave loopback.
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


class MotoServer:
    """One moto server for a whole session; `reset()` wipes its state between uses."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        # werkzeug logs every request at INFO; verbose=False alone does not silence it.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server: Any = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.url = ""

    def start(self) -> str:
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        return self.url

    def stop(self) -> None:
        self._server.stop()

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass


def point_environment_at(url: str, region: str, env: MutableMapping[str, str] = os.environ) -> None:
    """Aim boto3 (and so the real product code) at the moto server."""
    env.update(FAKE_CREDENTIALS)
    env["AWS_ENDPOINT_URL"] = url
    env["AWS_DEFAULT_REGION"] = region
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        env.pop(name, None)


@contextmanager
def running_moto() -> Iterator[MotoServer]:
    server = MotoServer()
    server.start()
    # moto's state is the process's, shared by every server in it: start from nothing, so a
    # world seeded earlier in the same process (another test module) is not seen twice.
    server.reset()
    try:
        yield server
    finally:
        server.stop()
