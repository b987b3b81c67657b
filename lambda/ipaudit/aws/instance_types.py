"""Instance-type networking limits, read from DescribeInstanceTypes rather than a baked-in table."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from botocore.exceptions import ClientError

from ipaudit.errors import InputError
from ipaudit.snapshot import InstanceTypeLimits
from ipaudit.words import noun

# DescribeInstanceTypes accepts at most 100 names per request.
BATCH_SIZE = 100

_UNKNOWN_NAMES = re.compile(r"\[([^\]]*)\]")


class UnknownInstanceTypeError(InputError):
    """EC2 does not know one or more instance type names."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = tuple(sorted(set(names)))
        super().__init__(
            f"unknown {noun(len(self.names), 'instance type')}: {', '.join(self.names)}"
        )


def describe_instance_types(ec2_client: Any, types: Iterable[str]) -> dict[str, InstanceTypeLimits]:
    """The limits of every named type, one paginated DescribeInstanceTypes per 100 names."""
    names = sorted(set(types))
    limits: dict[str, InstanceTypeLimits] = {}
    paginator = ec2_client.get_paginator("describe_instance_types")
    for start in range(0, len(names), BATCH_SIZE):
        batch = names[start : start + BATCH_SIZE]
        try:
            for page in paginator.paginate(InstanceTypes=batch):
                for item in page.get("InstanceTypes", []):
                    parsed = parse_instance_type(item)
                    limits[parsed.instance_type] = parsed
        except ClientError as error:
            # AWS and moto both answer "InvalidInstanceType" (moto's older code adds ".NotFound")
            # and list the unknown names in brackets.
            if (
                not error.response.get("Error", {})
                .get("Code", "")
                .startswith("InvalidInstanceType")
            ):
                raise
            raise UnknownInstanceTypeError(_unknown_names(error, batch)) from None
    missing = [name for name in names if name not in limits]
    if missing:
        raise UnknownInstanceTypeError(missing)
    return limits


def parse_instance_type(item: Mapping[str, Any]) -> InstanceTypeLimits:
    """One DescribeInstanceTypes entry as limits; multi-card types count the default card only."""
    network = item["NetworkInfo"]
    max_enis = int(network["MaximumNetworkInterfaces"])
    cards = network.get("NetworkCards") or []
    if len(cards) > 1:
        # ipamd attaches pod ENIs to the default card; the top-level maximum sums every card.
        default_index = network.get("DefaultNetworkCardIndex", 0)
        for card in cards:
            if card.get("NetworkCardIndex") == default_index:
                max_enis = int(card["MaximumNetworkInterfaces"])
                break
    return InstanceTypeLimits(
        instance_type=item["InstanceType"],
        max_enis=max_enis,
        ipv4_per_eni=int(network["Ipv4AddressesPerInterface"]),
        vcpus=int(item["VCpuInfo"]["DefaultVCpus"]),
        hypervisor=item.get("Hypervisor", ""),
        bare_metal=bool(item.get("BareMetal", False)),
        network_cards=tuple(
            int(card["MaximumNetworkInterfaces"])
            for card in sorted(cards, key=lambda card: int(card.get("NetworkCardIndex", 0)))
        ),
        memory_mib=int((item.get("MemoryInfo") or {}).get("SizeInMiB") or 0),
    )


def _unknown_names(error: ClientError, batch: list[str]) -> list[str]:
    message = error.response.get("Error", {}).get("Message", "")
    match = _UNKNOWN_NAMES.search(message)
    if match:
        named = [name.strip() for name in match.group(1).split(",") if name.strip()]
        if named:
            return named
    quoted = [name for name in batch if f"'{name}'" in message]
    return quoted or batch
