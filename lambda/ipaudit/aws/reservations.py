"""Subnet CIDR reservations: ranges kept from EC2's own address assignment (`explicit`) or kept
for /28 prefixes (`prefix`). Free /28 blocks must honour them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from botocore.exceptions import ClientError

from ipaudit.aws.error_line import one_line
from ipaudit.snapshot import CidrReservation, Subnet


def with_reservations(
    ec2_client: Any, subnets: Iterable[Subnet]
) -> tuple[tuple[Subnet, ...], tuple[str, ...]]:
    """Each IPv4 subnet with its reservations, one request per subnet (the API takes one), and
    notes for the coverage entry.

    A refusal (a member role deployed before it allowed the read) costs only the /28 count's
    accuracy, said in a note, never the audit.
    """
    subnets = tuple(subnets)
    read: list[Subnet] = []
    for subnet in subnets:
        if subnet.ipv6_only:
            read.append(subnet)
            continue
        try:
            read.append(replace(subnet, reservations=_reservations(ec2_client, subnet.subnet_id)))
        except ClientError as error:
            note = (
                f"subnet CIDR reservations not read ({one_line(error)}): "
                "free /28 blocks do not count them"
            )
            return subnets, (note,)
    return tuple(read), ()


def _reservations(ec2_client: Any, subnet_id: str) -> tuple[CidrReservation, ...]:
    # GetSubnetCidrReservations pages with NextToken and has no paginator.
    found: list[CidrReservation] = []
    params: dict[str, Any] = {"SubnetId": subnet_id}
    while True:
        answer = ec2_client.get_subnet_cidr_reservations(**params)
        found += [
            CidrReservation(cidr=r["Cidr"], kind=r.get("ReservationType", "explicit"))
            for r in answer.get("SubnetIpv4CidrReservations", [])
            if r.get("Cidr")
        ]
        if not answer.get("NextToken"):
            return tuple(found)
        params["NextToken"] = answer["NextToken"]
