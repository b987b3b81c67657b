"""Recorded AWS and Kubernetes answers, replayed from memory instead of the network.

AWS: botocore's HTTP send is answered with bytes in AWS's own wire format (EC2 and STS XML, EKS
JSON), so botocore parses exactly what it would parse from AWS. Kubernetes: the official
client's urllib3 pool answers with the recorded JSON pages. Neither moto nor a local server runs
in the measured process, so the CPU measured is the reader's own.
"""

from __future__ import annotations

import io
import json
import threading
import types
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit
from xml.sax.saxutils import escape

import botocore.session
import urllib3
from botocore.awsrequest import AWSResponse
from botocore.httpsession import URLLib3Session
from kubernetes.client import rest

_MODELS = botocore.session.get_session()
# (host, form or query parameters, path, JSON body) -> (status, body)
AwsAnswer = Callable[[str, Mapping[str, str], str, Any], tuple[int, bytes]]


def xml_answer(service: str, operation: str, value: Mapping[str, Any]) -> bytes:
    """`value` (botocore's parsed form) as the XML AWS sends for `operation`."""
    model = _MODELS.get_service_model(service)
    shape = model.operation_model(operation).output_shape
    out: list[str] = []
    if shape is not None:
        _xml(shape, value, out)
    body = "".join(out)
    if model.protocol == "query":  # STS wraps the result; EC2 does not
        body = f"<{operation}Result>{body}</{operation}Result>"
    namespace = f"https://{service}.amazonaws.com/doc/{model.api_version}/"
    return (
        f'<{operation}Response xmlns="{namespace}">{body}'
        f"<requestId>00000000-0000-4000-8000-000000000000</requestId>"
        f"</{operation}Response>"
    ).encode()


def _xml(shape: Any, value: Any, out: list[str]) -> None:
    kind = shape.type_name
    if kind == "structure":
        for name, member in shape.members.items():
            if name in value and value[name] is not None:
                tag = member.serialization.get("name", name)
                out.append(f"<{tag}>")
                _xml(member, value[name], out)
                out.append(f"</{tag}>")
    elif kind == "list":
        tag = shape.member.serialization.get("name", "member")
        for item in value:
            out.append(f"<{tag}>")
            _xml(shape.member, item, out)
            out.append(f"</{tag}>")
    elif kind == "boolean":
        out.append("true" if value else "false")
    else:
        out.append(escape(str(value)))


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


@contextmanager
def replaying_aws(answer: AwsAnswer) -> Iterator[list[str]]:
    """Every botocore request answered by `answer(service host, form or query, path)`; yields
    the list of operations asked, in order."""
    asked: list[str] = []
    lock = threading.Lock()
    original = URLLib3Session.send

    def send(self: URLLib3Session, request: Any) -> AWSResponse:
        url = urlsplit(request.url)
        body = request.body
        if isinstance(body, bytes):
            body = body.decode()
        target = request.headers.get("X-Amz-Target")
        document = None
        if target:  # JSON protocol (DynamoDB): the operation is in the header
            target = target.decode() if isinstance(target, bytes) else target
            params = {"Action": target.rsplit(".", 1)[-1]}
            document = json.loads(body or "{}")
        else:
            params = dict(parse_qsl(body or url.query))
        with lock:
            asked.append(f"{(url.hostname or '').split('.')[0]}:{params.get('Action') or url.path}")
        status, data = answer(url.hostname or "", params, url.path, document)
        return AWSResponse(request.url, status, {"Content-Length": str(len(data))}, _Raw(data))

    URLLib3Session.send = send  # type: ignore[method-assign]
    try:
        yield asked
    finally:
        URLLib3Session.send = original  # type: ignore[method-assign]


KubeAnswer = Callable[[str, str, Mapping[str, str]], bytes]


class _Pool:
    """What the Kubernetes client takes for urllib3's PoolManager."""

    answer: KubeAnswer
    asked: list[str]

    def __init__(self, *_: Any, **__: Any) -> None:
        pass

    def request(self, method: str, url: str, fields: Any = None, **kwargs: Any) -> Any:
        parts = urlsplit(url)
        params = dict(fields or ())
        self.asked.append(f"{parts.hostname}{parts.path}?{urlencode(params)}")
        data = type(self).answer(parts.hostname or "", parts.path, params)
        return urllib3.HTTPResponse(
            body=io.BytesIO(data),
            status=200,
            headers={"Content-Type": "application/json"},
            preload_content=kwargs.get("preload_content", True),
        )


@contextmanager
def replaying_kube(answer: KubeAnswer) -> Iterator[list[str]]:
    """The Kubernetes client's requests answered by `answer(host, path, query)`."""
    asked: list[str] = []
    pool = type("Pool", (_Pool,), {"answer": staticmethod(answer), "asked": asked})
    fake = types.ModuleType("urllib3")
    fake.__dict__.update(urllib3.__dict__)
    fake.PoolManager = pool  # type: ignore[attr-defined]
    original = rest.urllib3
    rest.urllib3 = fake  # type: ignore[attr-defined]
    try:
        yield asked
    finally:
        rest.urllib3 = original  # type: ignore[attr-defined]
