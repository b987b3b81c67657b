"""describe_vpc asks for pages of 1000, follows NextToken on every listing and keeps what the
audit needs from each item."""

from __future__ import annotations

from typing import Any

from aws_stubs import stubbed_client
from botocore.stub import Stubber

from ipaudit.aws.ec2 import describe_vpc

VPC = "vpc-0abc"
VPC_FILTER = [{"Name": "vpc-id", "Values": [VPC]}]
# AWS's largest page for the three describes: each page is one request, retried on its own.
PAGE = {"MaxResults": 1000}
INSTANCE_FILTERS = [
    *VPC_FILTER,
    {"Name": "instance-state-name", "Values": ["pending", "running", "stopping"]},
]


def subnet(subnet_id: str, cidr: str, free: int) -> dict[str, Any]:
    return {
        "SubnetId": subnet_id,
        "VpcId": VPC,
        "CidrBlock": cidr,
        "AvailabilityZone": "eu-west-1a",
        "AvailableIpAddressCount": free,
        "Tags": [{"Key": "kubernetes.io/role/internal-elb", "Value": "1"}],
    }


def eni(eni_id: str, *ips: str, **extra: Any) -> dict[str, Any]:
    return {
        "NetworkInterfaceId": eni_id,
        "SubnetId": "subnet-a",
        "VpcId": VPC,
        "Status": "in-use",
        "Description": "",
        "InterfaceType": "interface",
        "PrivateIpAddress": ips[0],
        "PrivateIpAddresses": [
            {"PrivateIpAddress": ip, "Primary": index == 0} for index, ip in enumerate(ips)
        ],
        **extra,
    }


def instance(instance_id: str, ip: str) -> dict[str, Any]:
    return {
        "InstanceId": instance_id,
        "InstanceType": "m5.large",
        "SubnetId": "subnet-a",
        "VpcId": VPC,
        "PrivateIpAddress": ip,
        "State": {"Name": "running", "Code": 16},
        "Tags": [{"Key": "eks:cluster-name", "Value": "prod"}],
    }


def test_every_listing_is_read_in_pages_of_1000_followed_and_merged() -> None:
    ec2 = stubbed_client("ec2")
    with Stubber(ec2) as stub:
        stub.add_response(
            "describe_subnets",
            {"Subnets": [subnet("subnet-a", "10.0.0.0/24", 200)], "NextToken": "s2"},
            {"Filters": VPC_FILTER, **PAGE},
        )
        stub.add_response(
            "describe_subnets",
            {"Subnets": [subnet("subnet-b", "10.0.1.0/24", 251)]},
            {"Filters": VPC_FILTER, "NextToken": "s2", **PAGE},
        )
        stub.add_response(
            "describe_network_interfaces",
            {"NetworkInterfaces": [eni("eni-1", "10.0.0.10")], "NextToken": "n2"},
            {"Filters": VPC_FILTER, **PAGE},
        )
        stub.add_response(
            "describe_network_interfaces",
            {"NetworkInterfaces": [eni("eni-2", "10.0.0.20")], "NextToken": "n3"},
            {"Filters": VPC_FILTER, "NextToken": "n2", **PAGE},
        )
        stub.add_response(
            "describe_network_interfaces",
            {"NetworkInterfaces": [eni("eni-3", "10.0.0.30")]},
            {"Filters": VPC_FILTER, "NextToken": "n3", **PAGE},
        )
        stub.add_response(
            "describe_instances",
            {
                "Reservations": [{"Instances": [instance("i-1", "10.0.0.10")]}],
                "NextToken": "i2",
            },
            {"Filters": INSTANCE_FILTERS, **PAGE},
        )
        stub.add_response(
            "describe_instances",
            {"Reservations": [{"Instances": [instance("i-2", "10.0.0.20")]}]},
            {"Filters": INSTANCE_FILTERS, "NextToken": "i2", **PAGE},
        )
        inventory = describe_vpc(ec2, VPC)
        stub.assert_no_pending_responses()

    assert inventory.vpc_id == VPC
    assert [s.subnet_id for s in inventory.subnets] == ["subnet-a", "subnet-b"]
    assert inventory.subnets[1].available_ips == 251
    assert inventory.subnets[0].tags == {"kubernetes.io/role/internal-elb": "1"}
    assert [e.eni_id for e in inventory.enis] == ["eni-1", "eni-2", "eni-3"]
    assert [i.instance_id for i in inventory.instances] == ["i-1", "i-2"]
    assert inventory.instances[0].tags == {"eks:cluster-name": "prod"}
    assert inventory.instances[0].state == "running"


def test_an_eni_keeps_its_addresses_primary_first_prefixes_and_attachment() -> None:
    item = eni(
        "eni-9",
        "10.0.0.5",
        "10.0.0.6",
        "10.0.0.7",
        Ipv4Prefixes=[{"Ipv4Prefix": "10.0.0.32/28"}],
        InterfaceType="interface",
        Description="aws-K8S-i-0123456789abcdef0",
        Attachment={"InstanceId": "i-0123456789abcdef0", "DeviceIndex": 1, "NetworkCardIndex": 0},
        TagSet=[{"Key": "node.k8s.amazonaws.com/instance_id", "Value": "i-0123456789abcdef0"}],
    )
    # AWS happens to list the primary first; the collector does not rely on it.
    item["PrivateIpAddresses"].reverse()
    ec2 = stubbed_client("ec2")
    with Stubber(ec2) as stub:
        stub.add_response("describe_subnets", {"Subnets": []})
        stub.add_response("describe_network_interfaces", {"NetworkInterfaces": [item]})
        stub.add_response("describe_instances", {"Reservations": []})
        (found,) = describe_vpc(ec2, VPC).enis

    assert found.private_ips[0] == "10.0.0.5"
    assert found.primary_ip == "10.0.0.5"
    assert sorted(found.private_ips) == ["10.0.0.5", "10.0.0.6", "10.0.0.7"]
    assert found.prefixes == ("10.0.0.32/28",)
    assert (found.instance_id, found.device_index, found.network_card_index) == (
        "i-0123456789abcdef0",
        1,
        0,
    )
    assert found.description == "aws-K8S-i-0123456789abcdef0"
    assert found.tags == {"node.k8s.amazonaws.com/instance_id": "i-0123456789abcdef0"}


def test_an_unattached_eni_has_no_instance() -> None:
    item = eni("eni-leak", "10.0.0.99", Status="available", Description="aws-K8S-i-0dead")
    ec2 = stubbed_client("ec2")
    with Stubber(ec2) as stub:
        stub.add_response("describe_subnets", {"Subnets": []})
        stub.add_response("describe_network_interfaces", {"NetworkInterfaces": [item]})
        stub.add_response("describe_instances", {"Reservations": []})
        (found,) = describe_vpc(ec2, VPC).enis

    assert found.status == "available"
    assert found.instance_id is None
    assert found.device_index is None
