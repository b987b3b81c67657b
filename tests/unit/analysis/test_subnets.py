"""Subnet headroom: usable addresses, free addresses and free /28 blocks."""

from ipaudit.analysis.subnets import free_prefix_blocks, subnet_report, usable_addresses
from ipaudit.snapshot import CidrReservation, Eni, Subnet


def eni(*ips: str, prefixes: tuple[str, ...] = (), subnet: str = "subnet-a") -> Eni:
    return Eni(
        eni_id=f"eni-{ips[0] if ips else prefixes[0]}",
        subnet_id=subnet,
        vpc_id="vpc-1",
        status="in-use",
        description="",
        interface_type="interface",
        private_ips=ips,
        prefixes=prefixes,
    )


def test_aws_reserves_five_addresses_of_every_subnet() -> None:
    assert usable_addresses("10.0.0.0/22") == 1019
    assert usable_addresses("10.0.0.0/28") == 11


def test_an_empty_22_has_every_28_free_but_the_two_holding_reserved_addresses() -> None:
    assert free_prefix_blocks("10.0.0.0/22", []) == 64 - 2


def test_a_single_28_subnet_has_no_free_block() -> None:
    assert free_prefix_blocks("10.0.0.0/28", []) == 0


def test_one_used_address_takes_its_whole_28_and_a_delegated_prefix_takes_its_own() -> None:
    enis = [
        eni("10.0.0.20", "10.0.0.21"),  # both in block 1
        eni("10.0.0.40", prefixes=("10.0.0.64/28",)),  # blocks 2 and 4
        eni("10.9.9.9"),  # not in this subnet's range
    ]
    assert free_prefix_blocks("10.0.0.0/22", enis) == 62 - 3


def test_report_takes_free_addresses_from_ec2_and_never_goes_negative() -> None:
    subnet = Subnet("subnet-a", "vpc-1", "10.0.0.0/22", "eu-west-1a", available_ips=-12)
    report = subnet_report(subnet, [])
    assert (report.usable, report.free, report.free_pct) == (1019, 0, 0.0)


def test_report_counts_blocks_only_from_enis_in_that_subnet() -> None:
    subnet = Subnet("subnet-a", "vpc-1", "10.0.0.0/24", "eu-west-1a", available_ips=200)
    enis = [eni("10.0.0.20"), eni("10.0.0.100", subnet="subnet-b")]
    report = subnet_report(subnet, enis)
    assert report.free_pct == round(100 * 200 / 251, 1)
    assert report.free_prefix_blocks == 16 - 2 - 1


def test_an_explicit_reservation_takes_its_blocks_from_prefixes_a_prefix_reservation_does_not() -> (
    None
):
    # A /24: 16 blocks, the first and last hold reserved addresses.
    explicit = CidrReservation("10.0.0.64/26", "explicit")  # blocks 4-7
    prefix = CidrReservation("10.0.0.128/27", "prefix")  # blocks 8-9, kept for prefixes
    assert free_prefix_blocks("10.0.0.0/24", [], [explicit, prefix]) == 16 - 2 - 4
