"""Subnet CIDR reservations: read per subnet; a refusal is a note, never a lost audit."""

from __future__ import annotations

from aws_stubs import stubbed_client
from botocore.stub import Stubber

from ipaudit.aws.reservations import with_reservations
from ipaudit.snapshot import CidrReservation, Subnet

A = Subnet("subnet-a", "vpc-1", "10.0.0.0/24", "eu-west-1a", 251)
V6 = Subnet("subnet-v6", "vpc-1", "", "eu-west-1a", 0, ipv6_cidrs=("2a05:d018::/64",))


def test_each_ipv4_subnet_gets_its_reservations_across_pages() -> None:
    ec2 = stubbed_client("ec2")
    with Stubber(ec2) as stub:
        stub.add_response(
            "get_subnet_cidr_reservations",
            {
                "SubnetIpv4CidrReservations": [
                    {"Cidr": "10.0.0.64/26", "ReservationType": "explicit"}
                ],
                "NextToken": "r2",
            },
            {"SubnetId": "subnet-a"},
        )
        stub.add_response(
            "get_subnet_cidr_reservations",
            {
                "SubnetIpv4CidrReservations": [
                    {"Cidr": "10.0.0.128/27", "ReservationType": "prefix"}
                ]
            },
            {"SubnetId": "subnet-a", "NextToken": "r2"},
        )
        (a, v6), notes = with_reservations(ec2, [A, V6])  # no request for the IPv6-only one
        stub.assert_no_pending_responses()
    assert a.reservations == (
        CidrReservation("10.0.0.64/26", "explicit"),
        CidrReservation("10.0.0.128/27", "prefix"),
    )
    assert (v6, notes) == (V6, ())


def test_a_role_without_the_permission_costs_a_note_not_the_audit() -> None:
    ec2 = stubbed_client("ec2")
    with Stubber(ec2) as stub:
        stub.add_client_error(
            "get_subnet_cidr_reservations",
            service_error_code="UnauthorizedOperation",
            service_message="You are not authorized to perform this operation.",
            http_status_code=403,
        )
        subnets, notes = with_reservations(ec2, [A])
    assert subnets == (A,)
    [note] = notes
    assert "UnauthorizedOperation" in note and "free /28 blocks do not count them" in note
