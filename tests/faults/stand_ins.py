"""Loopback stand-ins that misbehave on purpose: AWS throttling or hanging in front of moto, a
Kubernetes API that hangs, drips or answers malformed lists.

Import as `from faults.stand_ins import ...` (tests/ is on sys.path through its conftest).
"""

from __future__ import annotations

import json
import math
import re
import threading
import urllib.parse
from collections.abc import Callable
from typing import Any

from support.loopback import Loopback, QuietHandler

# Each service's real throttling answer, in its own protocol: (status, content type, body).
_EC2_THROTTLE = (
    503,
    "text/xml;charset=UTF-8",
    '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
    "<Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error>"
    "</Errors><RequestID>5f0f9a62-1d72-4e1e-9c1a-52fdfc072182</RequestID></Response>",
)
_QUERY_THROTTLE = (  # STS, Organizations-style query protocol
    400,
    "text/xml",
    '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error>'
    "<Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>"
    "<RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ErrorResponse>",
)
_REST_JSON_THROTTLE = (  # EKS
    429,
    "application/json",
    '{"message":"Rate exceeded"}',
)
_JSON_THROTTLE = {  # JSON 1.0 / 1.1 protocols, by service
    "dynamodb": "com.amazonaws.dynamodb.v20120810#ThrottlingException",
    "organizations": "TooManyRequestsException",
    "secretsmanager": "ThrottlingException",
}
_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request")


def service_of(headers: Any) -> tuple[str, str]:
    """(service, region) from the SigV4 Authorization header."""
    match = _SCOPE.search(headers.get("Authorization", ""))
    return (match.group(2), match.group(1)) if match else ("", "")


# EC2 refusing a request for good (not retried): what `FaultyAws.fail` answers.
_EC2_REFUSED = (
    403,
    "text/xml;charset=UTF-8",
    '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
    "<Code>UnauthorizedOperation</Code><Message>You are not authorized to perform this "
    "operation.</Message></Error></Errors>"
    "<RequestID>0c6b8d4e-7c1f-4a5e-9d3b-1e2f3a4b5c6d</RequestID></Response>",
)


class FaultyAws:
    """Forwards to moto; answers `share` of the chosen services' requests with their throttling
    error, holds the requests `hang` matches until stopped, and refuses the EC2 requests `fail`
    matches with EC2's UnauthorizedOperation."""

    def __init__(self, upstream: str) -> None:
        self.share = 0.0
        self.services: set[str] = set()
        self.hang: Callable[[str, str, bytes], bool] = lambda service, region, body: False
        self.fail: Callable[[str, str, bytes], bool] = lambda service, region, body: False
        self.on_answer: Callable[[str, bytes, int], None] = lambda service, body, status: None
        self.throttle_next: dict[str, int] = {}  # the next N requests of a service, throttled
        # Requests this matches (service, body) are throttled, every time.
        self.throttle_when: Callable[[str, bytes], bool] = lambda service, body: False
        self.throttled: dict[str, int] = {}
        self.forwarded: dict[str, int] = {}
        self._seen: dict[str, int] = {}
        self._lock = threading.Lock()
        self._released = threading.Event()
        proxy = self

        class Handler(QuietHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self) -> None:
                body = self.body()
                service, region = service_of(self.headers)
                if proxy.hang(service, region, body):
                    proxy._released.wait()
                    self.close_connection = True
                    return
                if service == "ec2" and proxy.fail(service, region, body):
                    self.answer(*_EC2_REFUSED)
                    return
                # A presigned GetCallerIdentity is EKS checking a token, not the auditor's call.
                presigned = "X-Amz-Signature=" in self.path
                if not presigned and (
                    proxy._throttle_matching(service, body) or proxy._throttle(service)
                ):
                    self.answer(*proxy._throttle_answer(service))
                    return
                status, headers, data = self.forward(upstream, body)
                with proxy._lock:
                    proxy.forwarded[service] = proxy.forwarded.get(service, 0) + 1
                proxy.on_answer(service, body, status)
                kind = dict((k.lower(), v) for k, v in headers).get("content-type")
                self.answer(
                    status,
                    kind or "application/octet-stream",
                    data,
                    [(k, v) for k, v in headers if k.lower().startswith("x-amz")],
                )

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward

        self._server = Loopback(Handler)
        self.url = self._server.start()

    def _throttle_matching(self, service: str, body: bytes) -> bool:
        if not self.throttle_when(service, body):
            return False
        with self._lock:
            self.throttled[service] = self.throttled.get(service, 0) + 1
        return True

    def _throttle(self, service: str) -> bool:
        """Exactly `share` of each service's requests, spread evenly (every fifth at 20%)."""
        with self._lock:
            if self.throttle_next.get(service, 0) > 0:
                self.throttle_next[service] -= 1
                self.throttled[service] = self.throttled.get(service, 0) + 1
                return True
            if service not in self.services:
                return False
            seen = self._seen.get(service, 0)
            self._seen[service] = seen + 1
            if math.floor((seen + 1) * self.share) == math.floor(seen * self.share):
                return False
            self.throttled[service] = self.throttled.get(service, 0) + 1
            return True

    def _throttle_answer(self, service: str) -> tuple[int, str, str, list[tuple[str, str]]]:
        if service == "ec2":
            return (*_EC2_THROTTLE, [])
        if service == "eks":
            return (*_REST_JSON_THROTTLE, [("x-amzn-ErrorType", "ThrottlingException")])
        if service in _JSON_THROTTLE:
            body = json.dumps({"__type": _JSON_THROTTLE[service], "message": "Rate exceeded"})
            return (400, "application/x-amz-json-1.0", body, [])
        return (*_QUERY_THROTTLE, [])

    def stop(self) -> None:
        self._released.set()
        self._server.stop()


def node_list_items(items: list[Any]) -> dict[str, Any]:
    return {"kind": "NodeList", "apiVersion": "v1", "metadata": {}, "items": items}


class BrokenKubeApi:
    """A Kubernetes API on loopback that misbehaves in one way for every request:
    `hang` (never answers), `drip` (answers one byte per `drip_every` seconds), or `malformed`
    (answers the lists in `answers`, by path, as given)."""

    def __init__(self, mode: str, *, drip_every: float = 0.5) -> None:
        self.mode = mode
        self.answers: dict[str, Any] = {}
        self.requests: list[str] = []
        released = self._released = threading.Event()
        api = self

        class Handler(QuietHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                path = urllib.parse.urlsplit(self.path).path
                api.requests.append(path)
                if api.mode == "hang":
                    released.wait()
                    return
                body = json.dumps(api.answers.get(path, node_list_items([]))).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if api.mode == "drip":
                    for byte in body:
                        if released.wait(drip_every):
                            return
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                    return
                self.wfile.write(body)

        self._server = Loopback(Handler)
        self.url = self._server.start()

    def stop(self) -> None:
        self._released.set()
        self._server.stop()
