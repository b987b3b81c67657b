"""AWS errors as the one line a coverage entry or the terminal shows."""

from __future__ import annotations

import re

from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError

# What a proxy, a captive portal or a wrong AWS_ENDPOINT_URL answers instead of AWS's error
# shape; botocore would otherwise carry the whole page into the message.
_HTML = re.compile(r"<\s*(!doctype\s+html|html)\b", re.IGNORECASE)
NOT_AWS = "the endpoint answered HTML, not AWS{status}: check AWS_ENDPOINT_URL and any proxy"


def one_line(error: BaseException) -> str:
    """The operation, AWS's error code and its own message; other errors, squeezed to a line."""
    if isinstance(error, ClientError):
        info = error.response.get("Error", {})
        operation = error.operation_name
        if answered_html(error):
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            return f"{operation}: " + NOT_AWS.format(status=f" (HTTP {status})" if status else "")
        return f"{operation}: {info.get('Code', 'Error')}: {info.get('Message', '')}".strip(": ")
    if isinstance(error, ResponseParserError) and _HTML.search(str(error)):
        return NOT_AWS.format(status="")  # a parser error knows neither status nor operation
    return " ".join(str(error).split()) or type(error).__name__


def answered_html(error: ClientError) -> bool:
    """Whether something other than AWS answered (an HTML page where AWS's error shape goes)."""
    metadata = error.response.get("ResponseMetadata", {})
    content_type = str(metadata.get("HTTPHeaders", {}).get("content-type", ""))
    message = str(error.response.get("Error", {}).get("Message", ""))
    return content_type.lower().startswith("text/html") or bool(_HTML.search(message))
