"""Integration fixtures: AWS refusing a role, in front of the moto server, over HTTP."""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from support.loopback import Loopback, QuietHandler

from ipaudit_sim.aws import MotoServer

ACCESS_DENIED = """<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
<Error><Type>Sender</Type><Code>AccessDenied</Code>
<Message>User: arn:aws:iam::123456789012:user/moto is not authorized to perform:
sts:AssumeRole on resource: {role}</Message></Error>
<RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ErrorResponse>"""

# EKS DescribeAddon: GET /clusters/{name}/addons/{addonName}
ADDON_PATH = re.compile(r"/clusters/([^/]+)/addons/([^/]+)")


class DenyingProxy:
    """Forwards every request to moto, except AssumeRole into the roles in `denied`, and
    DescribeAddon of the EKS add-ons in `addons`.

    moto lets anyone assume any role; real AWS answers AccessDenied when the member account has no
    such role or does not trust the caller. moto has no EKS add-ons at all: `addons` maps
    (cluster, add-on name) to the `addon` object DescribeAddon returns.
    """

    def __init__(self, upstream: str) -> None:
        self.denied: set[str] = set()
        self.addons: dict[tuple[str, str], dict[str, Any]] = {}
        proxy = self

        class Handler(QuietHandler):
            def _forward(self) -> None:
                body = self.body()
                form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
                role = (form.get("RoleArn") or [""])[0]
                if form.get("Action") == ["AssumeRole"] and role in proxy.denied:
                    self.answer(403, "text/xml", ACCESS_DENIED.format(role=role))
                    return
                addon = ADDON_PATH.fullmatch(urllib.parse.urlsplit(self.path).path)
                if self.command == "GET" and addon and addon.groups() in proxy.addons:
                    found = {"addon": proxy.addons[addon.groups()]}
                    self.answer(200, "application/json", json.dumps(found))
                    return
                status, headers, data = self.forward(upstream, body)
                self.send_response(status)
                for name, value in headers:
                    if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward

        self._server = Loopback(Handler)
        self.url = self._server.url

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop()


@pytest.fixture(scope="session")
def denying_proxy(moto_server: MotoServer) -> Iterator[DenyingProxy]:
    proxy = DenyingProxy(moto_server.url)
    proxy.start()
    yield proxy
    proxy.stop()
