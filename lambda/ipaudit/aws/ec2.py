"""Everything in one VPC that holds pod addresses: subnets, ENIs and live instances.

Three paginated calls per VPC whatever its size — filtering by `vpc-id` instead of asking per node
keeps a 1000-node cluster as cheap to audit as a 3-node one. Pages of 1000 items (AWS's
guidance): without `MaxResults` one VPC's ENIs came back as one answer of ~90 MB at 10k nodes,
and a timeout retried all of it; now each page is its own request, retried on its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ipaudit.gc_pause import collection_paused
from ipaudit.snapshot import Eni, Instance, Subnet

# Terminated and shutting-down instances no longer hold addresses worth auditing; stopped ones
# keep their primary ENI, which the ENI listing already covers.
LIVE_INSTANCE_STATES = ("pending", "running", "stopping")


@dataclass(frozen=True)
class VpcInventory:
    vpc_id: str
    subnets: tuple[Subnet, ...]
    enis: tuple[Eni, ...]
    instances: tuple[Instance, ...]
    cidrs: tuple[str, ...] = ()  # the VPC's IPv4 CIDR blocks (vpc_cidrs), when read


def describe_vpc(ec2_client: Any, vpc_id: str) -> VpcInventory:
    """The VPC's subnets, every ENI in it and its live instances."""
    vpc_filter = [{"Name": "vpc-id", "Values": [vpc_id]}]
    subnets = tuple(
        _subnet(item)
        for page in _pages(ec2_client, "describe_subnets", Filters=vpc_filter)
        for item in page.get("Subnets", [])
    )
    enis = tuple(
        _eni(item)
        for page in _pages(ec2_client, "describe_network_interfaces", Filters=vpc_filter)
        for item in page.get("NetworkInterfaces", [])
    )
    instance_filters = [
        *vpc_filter,
        {"Name": "instance-state-name", "Values": list(LIVE_INSTANCE_STATES)},
    ]
    instances = tuple(
        _instance(item)
        for page in _pages(ec2_client, "describe_instances", Filters=instance_filters)
        for reservation in page.get("Reservations", [])
        for item in reservation.get("Instances", [])
    )
    return VpcInventory(vpc_id=vpc_id, subnets=subnets, enis=enis, instances=instances)


def vpc_enis(ec2_client: Any, vpc_id: str) -> tuple[Eni, ...]:
    """Every ENI in one VPC (a peer's, for its Network Address Usage), one paginated call."""
    vpc_filter = [{"Name": "vpc-id", "Values": [vpc_id]}]
    return tuple(
        _eni(item)
        for page in _pages(ec2_client, "describe_network_interfaces", Filters=vpc_filter)
        for item in page.get("NetworkInterfaces", [])
    )


# The largest MaxResults the three describes accept.
PAGE_SIZE = 1000

# A block in these states still holds its range: a new block must not overlap it.
_HELD_CIDR_STATES = ("associating", "associated")


def vpc_cidrs(ec2_client: Any, vpc_ids: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Each VPC's IPv4 CIDR blocks, in one paginated DescribeVpcs for them all: where a new
    secondary block must not go."""
    wanted = sorted(set(vpc_ids))
    cidrs: dict[str, tuple[str, ...]] = {}
    if not wanted:
        return cidrs
    vpc_filter = [{"Name": "vpc-id", "Values": wanted}]
    for page in _pages(ec2_client, "describe_vpcs", Filters=vpc_filter):
        for vpc in page.get("Vpcs", []):
            held = [
                association["CidrBlock"]
                for association in vpc.get("CidrBlockAssociationSet", [])
                if association.get("CidrBlock")
                and association.get("CidrBlockState", {}).get("State", "associated")
                in _HELD_CIDR_STATES
            ]
            if not held and vpc.get("CidrBlock"):
                held = [vpc["CidrBlock"]]
            cidrs[vpc["VpcId"]] = tuple(dict.fromkeys(held))
    return cidrs


def _pages(ec2_client: Any, operation: str, **params: Any) -> Iterator[Mapping[str, Any]]:
    paginator = ec2_client.get_paginator(operation)
    # Pages of a thousand ENIs or instances, parsed and read into the snapshot: nothing there
    # makes a cycle for the collector to find (gc_pause.py).
    with collection_paused():
        yield from paginator.paginate(**params, PaginationConfig={"PageSize": PAGE_SIZE})


def _tags(tags: Iterable[Mapping[str, str]] | None) -> dict[str, str]:
    return {tag["Key"]: tag.get("Value", "") for tag in tags or []}


def _subnet(item: Mapping[str, Any]) -> Subnet:
    # An IPv6-only subnet has no CidrBlock at all.
    return Subnet(
        subnet_id=item["SubnetId"],
        vpc_id=item["VpcId"],
        cidr=item.get("CidrBlock") or "",
        az=item.get("AvailabilityZone", ""),
        available_ips=int(item.get("AvailableIpAddressCount", 0)),
        tags=_tags(item.get("Tags")),
        ipv6_cidrs=tuple(
            a["Ipv6CidrBlock"]
            for a in item.get("Ipv6CidrBlockAssociationSet", [])
            if a.get("Ipv6CidrBlock")
        ),
    )


def _eni(item: Mapping[str, Any]) -> Eni:
    addresses = item.get("PrivateIpAddresses", [])
    # The primary first (Eni.primary_ip relies on it); AWS lists it first, but does not promise to.
    ordered = sorted(addresses, key=lambda address: not address.get("Primary", False))
    private_ips = tuple(a["PrivateIpAddress"] for a in ordered if a.get("PrivateIpAddress"))
    if not private_ips and item.get("PrivateIpAddress"):
        private_ips = (item["PrivateIpAddress"],)
    attachment = item.get("Attachment") or {}
    device_index = attachment.get("DeviceIndex")
    return Eni(
        eni_id=item["NetworkInterfaceId"],
        subnet_id=item["SubnetId"],
        vpc_id=item["VpcId"],
        status=item.get("Status", ""),
        description=item.get("Description", ""),
        interface_type=item.get("InterfaceType", "interface"),
        private_ips=private_ips,
        prefixes=tuple(p["Ipv4Prefix"] for p in item.get("Ipv4Prefixes", []) if "Ipv4Prefix" in p),
        instance_id=attachment.get("InstanceId") or None,
        device_index=None if device_index is None else int(device_index),
        network_card_index=int(attachment.get("NetworkCardIndex", 0)),
        tags=_tags(item.get("TagSet")),
        requester_managed=bool(item.get("RequesterManaged", False)),
        requester_id=item.get("RequesterId", ""),
        attached=bool(item.get("Attachment")),
        ipv6_addresses=len(item.get("Ipv6Addresses") or ()),
        ipv6_prefixes=len(item.get("Ipv6Prefixes") or ()),
    )


def _instance(item: Mapping[str, Any]) -> Instance:
    return Instance(
        instance_id=item["InstanceId"],
        instance_type=item["InstanceType"],
        subnet_id=item.get("SubnetId", ""),
        vpc_id=item.get("VpcId", ""),
        private_ip=item.get("PrivateIpAddress", ""),
        state=item.get("State", {}).get("Name", ""),
        tags=_tags(item.get("Tags")),
    )
