"""EC2 describes travel in pages of 1000, and a page that fails is asked again on its own: the
pages before it are not read twice (moto does not page, so a small EC2 endpoint answers here)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qsl

import boto3
import pytest
from support.loopback import Loopback, QuietHandler

from ipaudit.aws.ec2 import describe_vpc
from ipaudit.aws.session import client_config

NAMESPACE = "http://ec2.amazonaws.com/doc/2016-11-15/"


def subnet_item(subnet_id: str) -> str:
    return (
        f"<item><subnetId>{subnet_id}</subnetId><vpcId>vpc-1</vpcId>"
        "<cidrBlock>10.0.0.0/24</cidrBlock><availabilityZone>eu-west-1a</availabilityZone>"
        "<availableIpAddressCount>200</availableIpAddressCount></item>"
    )


def answer(operation: str, body: str) -> bytes:
    return (
        f'<{operation}Response xmlns="{NAMESPACE}"><requestId>r</requestId>{body}'
        f"</{operation}Response>"
    ).encode()


UNAVAILABLE = (
    b"<Response><Errors><Error><Code>ServiceUnavailable</Code><Message>try again</Message>"
    b"</Error></Errors><RequestID>r</RequestID></Response>"
)


class PagedEc2:
    """Three pages of subnets; the second fails once with 503. ENIs and instances: none."""

    def __init__(self) -> None:
        self.asked: list[dict[str, str]] = []
        self.failed_once = False
        api = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                params = dict(parse_qsl(self.body().decode()))
                api.asked.append(params)
                status, data = api.answer(params)
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = Loopback(Handler)
        self.url = self.server.url

    def answer(self, params: dict[str, str]) -> tuple[int, bytes]:
        action = params["Action"]
        if action == "DescribeSubnets":
            token = params.get("NextToken", "")
            if token == "page-2" and not self.failed_once:
                self.failed_once = True
                return 503, UNAVAILABLE
            following = {"": "page-2", "page-2": "page-3", "page-3": ""}[token]
            items = subnet_item(f"subnet-{token or 'page-1'}")
            more = f"<nextToken>{following}</nextToken>" if following else ""
            return 200, answer(action, f"<subnetSet>{items}</subnetSet>{more}")
        listing = {
            "DescribeNetworkInterfaces": "networkInterfaceSet",
            "DescribeInstances": "reservationSet",
        }[action]
        return 200, answer(action, f"<{listing}/>")


@pytest.fixture
def ec2_api() -> Iterator[PagedEc2]:
    api = PagedEc2()
    api.server.start()
    yield api
    api.server.stop()


def test_a_failed_page_is_asked_again_alone_and_every_page_asks_for_1000(
    ec2_api: PagedEc2,
) -> None:
    ec2 = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="eu-west-1"
    ).client("ec2", endpoint_url=ec2_api.url, config=client_config())

    inventory = describe_vpc(ec2, "vpc-1")

    assert [s.subnet_id for s in inventory.subnets] == [
        "subnet-page-1",
        "subnet-page-2",
        "subnet-page-3",
    ]
    subnet_pages = [
        p.get("NextToken", "") for p in ec2_api.asked if p["Action"] == "DescribeSubnets"
    ]
    assert subnet_pages == ["", "page-2", "page-2", "page-3"]
    assert {p["MaxResults"] for p in ec2_api.asked} == {"1000"}
