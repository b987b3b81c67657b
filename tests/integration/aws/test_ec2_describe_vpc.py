"""describe_vpc against EC2 as moto serves it over HTTP: exactly the VPC's things, in 3 calls."""

from __future__ import annotations

from typing import Any

import boto3

from ipaudit.aws.ec2 import describe_vpc, vpc_cidrs
from ipaudit.aws.session import client_config

AMI = "ami-12c6146b"  # one of moto's bundled images
LEAKED_DESCRIPTION = "aws-K8S-i-0123456789abcdef0"


def ec2_client(session: boto3.Session) -> Any:
    return session.client("ec2", config=client_config())


def count_calls(client: Any) -> list[str]:
    calls: list[str] = []
    client.meta.events.register("before-call.ec2", lambda model, **_: calls.append(model.name))
    return calls


def launch(ec2: Any, subnet_id: str, ip: str, instance_type: str = "m5.large") -> str:
    reservation = ec2.run_instances(
        ImageId=AMI,
        InstanceType=instance_type,
        MinCount=1,
        MaxCount=1,
        SubnetId=subnet_id,
        PrivateIpAddress=ip,
        TagSpecifications=[
            {"ResourceType": "instance", "Tags": [{"Key": "eks:cluster-name", "Value": "prod"}]}
        ],
    )
    return str(reservation["Instances"][0]["InstanceId"])


def test_a_vpc_is_described_with_exactly_its_subnets_enis_and_live_instances(
    aws: boto3.Session,
) -> None:
    ec2 = ec2_client(aws)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet_a = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24", AvailabilityZone="eu-west-1a")[
        "Subnet"
    ]["SubnetId"]
    subnet_b = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone="eu-west-1b")[
        "Subnet"
    ]["SubnetId"]
    node_a = launch(ec2, subnet_a, "10.0.0.10")
    node_b = launch(ec2, subnet_b, "10.0.1.10", instance_type="m5.8xlarge")
    # A secondary ENI the CNI attached to node_a, with two pod addresses.
    pod_eni = ec2.create_network_interface(
        SubnetId=subnet_a, PrivateIpAddress="10.0.0.20", Description="aws-K8S-i-pods"
    )["NetworkInterface"]["NetworkInterfaceId"]
    ec2.attach_network_interface(NetworkInterfaceId=pod_eni, InstanceId=node_a, DeviceIndex=1)
    ec2.assign_private_ip_addresses(
        NetworkInterfaceId=pod_eni, PrivateIpAddresses=["10.0.0.21", "10.0.0.22"]
    )
    # An ENI the CNI left behind when its node went away.
    leaked = ec2.create_network_interface(
        SubnetId=subnet_b, PrivateIpAddress="10.0.1.99", Description=LEAKED_DESCRIPTION
    )["NetworkInterface"]["NetworkInterfaceId"]
    # Nothing from another VPC shows up; a stopped instance is no node, but its ENI still holds
    # its address.
    other_vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    other_subnet = ec2.create_subnet(VpcId=other_vpc, CidrBlock="10.9.0.0/24")["Subnet"]["SubnetId"]
    launch(ec2, other_subnet, "10.9.0.10")
    ec2.create_network_interface(SubnetId=other_subnet, PrivateIpAddress="10.9.0.20")
    stopped = launch(ec2, subnet_a, "10.0.0.30")
    ec2.stop_instances(InstanceIds=[stopped])

    inventory = describe_vpc(ec2, vpc)

    assert inventory.vpc_id == vpc
    assert {(s.subnet_id, s.cidr, s.az) for s in inventory.subnets} == {
        (subnet_a, "10.0.0.0/24", "eu-west-1a"),
        (subnet_b, "10.0.1.0/24", "eu-west-1b"),
    }
    assert {
        i.instance_id: (i.instance_type, i.subnet_id, i.private_ip) for i in inventory.instances
    } == {
        node_a: ("m5.large", subnet_a, "10.0.0.10"),
        node_b: ("m5.8xlarge", subnet_b, "10.0.1.10"),
    }
    assert inventory.instances[0].tags == {"eks:cluster-name": "prod"}
    enis = {e.eni_id: e for e in inventory.enis}
    primaries = {e.private_ips: e.instance_id for e in enis.values() if e.device_index == 0}
    assert primaries == {("10.0.0.10",): node_a, ("10.0.1.10",): node_b, ("10.0.0.30",): stopped}
    pods = enis[pod_eni]
    assert pods.private_ips == ("10.0.0.20", "10.0.0.21", "10.0.0.22")
    assert (pods.instance_id, pods.device_index, pods.status) == (node_a, 1, "in-use")
    assert pods.subnet_id == subnet_a
    stray = enis[leaked]
    assert (stray.status, stray.description, stray.instance_id) == (
        "available",
        LEAKED_DESCRIPTION,
        None,
    )
    assert stray.private_ips == ("10.0.1.99",)
    assert len(enis) == 5
    assert all(e.vpc_id == vpc for e in inventory.enis)


def test_describe_vpc_makes_three_calls_however_many_nodes(aws: boto3.Session) -> None:
    ec2 = ec2_client(aws)
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.0.0/20")["Subnet"]["SubnetId"]
    launch(ec2, subnet, "10.1.0.10")
    calls = count_calls(ec2)

    small = describe_vpc(ec2, vpc)
    assert calls == ["DescribeSubnets", "DescribeNetworkInterfaces", "DescribeInstances"]

    ec2.run_instances(ImageId=AMI, InstanceType="m5.large", MinCount=6, MaxCount=6, SubnetId=subnet)
    calls.clear()
    large = describe_vpc(ec2, vpc)
    assert calls == ["DescribeSubnets", "DescribeNetworkInterfaces", "DescribeInstances"]
    assert (len(small.instances), len(large.instances)) == (1, 7)
    assert len(large.enis) == 7


def test_vpc_cidrs_lists_every_associated_block_in_one_call(aws: boto3.Session) -> None:
    ec2 = ec2_client(aws)
    vpc = ec2.create_vpc(CidrBlock="10.2.0.0/16")["Vpc"]["VpcId"]
    ec2.associate_vpc_cidr_block(VpcId=vpc, CidrBlock="100.64.0.0/16")
    removed = ec2.associate_vpc_cidr_block(VpcId=vpc, CidrBlock="100.65.0.0/16")
    ec2.disassociate_vpc_cidr_block(AssociationId=removed["CidrBlockAssociation"]["AssociationId"])
    other = ec2.create_vpc(CidrBlock="10.3.0.0/16")["Vpc"]["VpcId"]
    calls = count_calls(ec2)

    cidrs = vpc_cidrs(ec2, [vpc, other])

    assert calls == ["DescribeVpcs"]
    # A disassociated block no longer holds its range.
    assert cidrs == {vpc: ("10.2.0.0/16", "100.64.0.0/16"), other: ("10.3.0.0/16",)}
