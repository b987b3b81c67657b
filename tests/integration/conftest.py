"""Integration fixtures: AWS refusing a role, in front of the moto server, over HTTP."""

from __future__ import annotations

import http.client
import json
import re
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

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
        target = urllib.parse.urlsplit(upstream)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
                role = (form.get("RoleArn") or [""])[0]
                if form.get("Action") == ["AssumeRole"] and role in proxy.denied:
                    payload = ACCESS_DENIED.format(role=role).encode()
                    self.send_response(403)
                    self.send_header("Content-Type", "text/xml")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                addon = ADDON_PATH.fullmatch(urllib.parse.urlsplit(self.path).path)
                if self.command == "GET" and addon and addon.groups() in proxy.addons:
                    found = {"addon": proxy.addons[addon.groups()]}
                    payload = json.dumps(found).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                headers["Host"] = target.netloc
                connection.request(self.command, self.path, body=body, headers=headers)
                answer = connection.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                connection.close()

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture(scope="session")
def denying_proxy(moto_server: MotoServer) -> Iterator[DenyingProxy]:
    proxy = DenyingProxy(moto_server.url)
    proxy.start()
    yield proxy
    proxy.stop()
