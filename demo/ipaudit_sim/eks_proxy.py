"""A proxy in front of the moto server that answers what moto's EKS cannot.

moto has no add-ons (DescribeAddon, ListAddons: it answers a bare 404 page), no `computeConfig`
(EKS Auto Mode) and no cluster `health`. Tests and the demo point AWS_ENDPOINT_URL at this proxy:
every request goes on to moto, and the EKS answers named here are completed on the way back, so
the product (and the aws CLI) reads them over HTTP exactly as it reads real EKS, errors included:
an add-on that is not installed is EKS's JSON `ResourceNotFoundException`.
"""

from __future__ import annotations

import http.client
import json
import threading
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Obj = dict[str, Any]


class EksProxy:
    """Forwards to `upstream`; set `.clusters[name]` (merged into DescribeCluster's `cluster`),
    `.addons[(cluster, addon)]` (DescribeAddon's `addon`) and `.nodegroups[(cluster, name)]`
    (merged into DescribeNodegroup's `nodegroup`)."""

    def __init__(self, upstream: str) -> None:
        self.clusters: dict[str, Obj] = {}
        self.addons: dict[tuple[str, str], Obj] = {}
        self.nodegroups: dict[tuple[str, str], Obj] = {}
        self._upstream = urllib.parse.urlsplit(upstream)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = urllib.parse.urlsplit(self.path).path
                parts = [urllib.parse.unquote(p) for p in path.strip("/").split("/")]
                eks = self.command == "GET" and parts[:1] == ["clusters"]
                if eks and len(parts) in (3, 4) and parts[2] == "addons":
                    self._addons(parts[1], parts[3] if len(parts) == 4 else None)
                    return
                status, headers, data = proxy.forward(self.command, self.path, self.headers, body)
                if eks and status == 200 and len(parts) == 2 and parts[1] in proxy.clusters:
                    answer = json.loads(data)
                    answer["cluster"].update(proxy.clusters[parts[1]])
                    data = json.dumps(answer).encode()
                key = (parts[1], parts[3]) if len(parts) == 4 else None
                if eks and status == 200 and parts[2:3] == ["node-groups"] and key:
                    extra = proxy.nodegroups.get(key)
                    if extra is not None:
                        answer = json.loads(data)
                        answer["nodegroup"].update(extra)
                        data = json.dumps(answer).encode()
                self.send_response(status)
                for name, value in headers:
                    if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _addons(self, cluster: str, name: str | None) -> None:
                """DescribeAddon (`name`) or ListAddons, as EKS answers them."""
                status, _, _ = proxy.forward("GET", f"/clusters/{cluster}", self.headers, b"")
                if status != 200:
                    self._error(
                        "ResourceNotFoundException",
                        f"No cluster found for name: {cluster}.",
                        clusterName=cluster,
                    )
                elif name is None:
                    installed = sorted(a for c, a in proxy.addons if c == cluster)
                    self._send(200, {"addons": installed})
                elif (cluster, name) in proxy.addons:
                    self._send(200, {"addon": proxy.addons[(cluster, name)]})
                else:
                    self._error(
                        "ResourceNotFoundException",
                        f"No addon: {name} found in cluster: {cluster}",
                        clusterName=cluster,
                        addonName=name,
                    )

            def _error(self, code: str, message: str, **details: str) -> None:
                # EKS (rest-json) names the error in the body's __type and in x-amzn-ErrorType.
                self._send(
                    404,
                    {"__type": code, "message": message, **details},
                    {
                        "x-amzn-ErrorType": f"{code}:http://internal.amazon.com/coral/com.amazonaws.eks/"
                    },
                )

            def _send(self, status: int, body: Obj, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def forward(
        self, method: str, path: str, headers: Any, body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        target = self._upstream
        connection = http.client.HTTPConnection(
            target.hostname or "127.0.0.1", target.port, timeout=30
        )
        try:
            sent = {k: v for k, v in headers.items() if k.lower() != "host"}
            sent["Host"] = target.netloc
            connection.request(method, path, body=body, headers=sent)
            answer = connection.getresponse()
            return answer.status, answer.getheaders(), answer.read()
        finally:
            connection.close()

    def start(self) -> str:
        self._thread.start()
        return self.url

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
