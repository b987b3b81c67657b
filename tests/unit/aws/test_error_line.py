"""An AWS error is one line; an HTML page where AWS's error shape belongs (a proxy, a captive
portal, a wrong AWS_ENDPOINT_URL) says so, and never carries the page along."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError

from ipaudit.aws.error_line import one_line

PAGE = "<html><head><title>502 Bad Gateway</title></head><body><h1>nginx</h1></body></html>"


def client_error(status: int, content_type: str, message: str, code: str) -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {
            "HTTPStatusCode": status,
            "HTTPHeaders": {"content-type": content_type},
        },
    }
    return ClientError(response, "DescribeSubnets")


def test_an_aws_error_is_its_operation_code_and_message() -> None:
    error = client_error(403, "text/xml", "You are not authorized", "UnauthorizedOperation")
    assert one_line(error) == "DescribeSubnets: UnauthorizedOperation: You are not authorized"


def test_an_html_answer_names_the_status_and_what_to_check_not_the_page() -> None:
    # What botocore makes of a proxy's 502 page (query protocol) and 403 page (JSON protocol).
    for error in (
        client_error(502, "text/html", "Bad Gateway", "502"),
        client_error(403, "application/json", PAGE, "403"),
    ):
        status = error.response["ResponseMetadata"]["HTTPStatusCode"]
        assert one_line(error) == (
            f"DescribeSubnets: the endpoint answered HTML, not AWS (HTTP {status}): "
            "check AWS_ENDPOINT_URL and any proxy"
        )


def test_an_html_page_botocore_could_not_parse_is_the_same_line_without_a_status() -> None:
    error = ResponseParserError(
        f"Unable to parse response (mismatched tag), invalid XML received:\nb'{PAGE}'"
    )
    assert one_line(error) == (
        "the endpoint answered HTML, not AWS: check AWS_ENDPOINT_URL and any proxy"
    )
