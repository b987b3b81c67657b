"""DescribeInstanceTypes → each type's networking limits (what max pods and the CNI model use)."""

from __future__ import annotations

from typing import Any

import pytest
from aws_stubs import stubbed_client
from botocore.stub import Stubber

from ipaudit.aws.instance_types import UnknownInstanceTypeError, describe_instance_types
from ipaudit.errors import InputError


def entry(
    name: str,
    *,
    enis: int,
    ipv4: int,
    vcpus: int,
    hypervisor: str | None = "nitro",
    bare_metal: bool = False,
    cards: list[int] | None = None,
    default_card: int = 0,
) -> dict[str, Any]:
    cards = cards or [enis]
    network: dict[str, Any] = {
        "MaximumNetworkInterfaces": enis,
        "Ipv4AddressesPerInterface": ipv4,
        "DefaultNetworkCardIndex": default_card,
        "MaximumNetworkCards": len(cards),
        "NetworkCards": [
            {"NetworkCardIndex": index, "MaximumNetworkInterfaces": card}
            for index, card in enumerate(cards)
        ],
    }
    item: dict[str, Any] = {
        "InstanceType": name,
        "BareMetal": bare_metal,
        "VCpuInfo": {"DefaultVCpus": vcpus},
        "NetworkInfo": network,
    }
    if hypervisor is not None:
        item["Hypervisor"] = hypervisor
    return item


def test_pages_are_followed_and_merged() -> None:
    ec2 = stubbed_client("ec2")
    with Stubber(ec2) as stub:
        stub.add_response(
            "describe_instance_types",
            {"InstanceTypes": [entry("m5.8xlarge", enis=8, ipv4=30, vcpus=32)], "NextToken": "p2"},
            {"InstanceTypes": ["m5.8xlarge", "t2.micro", "t3.medium"]},
        )
        stub.add_response(
            "describe_instance_types",
            {"InstanceTypes": [entry("t3.medium", enis=3, ipv4=6, vcpus=2)], "NextToken": "p3"},
            {"InstanceTypes": ["m5.8xlarge", "t2.micro", "t3.medium"], "NextToken": "p2"},
        )
        stub.add_response(
            "describe_instance_types",
            {"InstanceTypes": [entry("t2.micro", enis=2, ipv4=2, vcpus=1, hypervisor="xen")]},
            {"InstanceTypes": ["m5.8xlarge", "t2.micro", "t3.medium"], "NextToken": "p3"},
        )
        limits = describe_instance_types(ec2, ["t2.micro", "m5.8xlarge", "t3.medium", "t2.micro"])
        stub.assert_no_pending_responses()

    assert sorted(limits) == ["m5.8xlarge", "t2.micro", "t3.medium"]
    m5 = limits["m5.8xlarge"]
    assert (m5.max_enis, m5.ipv4_per_eni, m5.vcpus, m5.hypervisor) == (8, 30, 32, "nitro")
    assert m5.supports_prefix_delegation
    assert not limits["t2.micro"].supports_prefix_delegation


def test_more_than_100_types_go_in_batches_of_100() -> None:
    names = [f"x{n:03}.large" for n in range(150)]
    ec2 = stubbed_client("ec2")
    with Stubber(ec2) as stub:
        for batch in (names[:100], names[100:]):
            stub.add_response(
                "describe_instance_types",
                {"InstanceTypes": [entry(n, enis=3, ipv4=10, vcpus=2) for n in batch]},
                {"InstanceTypes": batch},
            )
        limits = describe_instance_types(ec2, names)
        stub.assert_no_pending_responses()
    assert len(limits) == 150


def test_no_types_makes_no_call() -> None:
    ec2 = stubbed_client("ec2")
    with Stubber(ec2) as stub:
        assert describe_instance_types(ec2, []) == {}
        stub.assert_no_pending_responses()


def test_multi_card_type_counts_only_the_default_card() -> None:
    # p4d.24xlarge: 4 cards x 15 ENIs; the top-level maximum (60) sums every card, but pods only
    # ever get ENIs on the default card.
    ec2 = stubbed_client("ec2")
    with Stubber(ec2) as stub:
        stub.add_response(
            "describe_instance_types",
            {
                "InstanceTypes": [
                    entry("p4d.24xlarge", enis=60, ipv4=50, vcpus=96, cards=[15, 15, 15, 15]),
                    entry("x9.odd", enis=12, ipv4=10, vcpus=8, cards=[4, 8], default_card=1),
                ]
            },
        )
        limits = describe_instance_types(ec2, ["p4d.24xlarge", "x9.odd"])
    assert limits["p4d.24xlarge"].max_enis == 15
    assert limits["x9.odd"].max_enis == 8
    # Every card's ENIs, for ENABLE_MULTI_NIC (ipamd manages each card with one limit).
    assert limits["p4d.24xlarge"].network_cards == (15, 15, 15, 15)
    assert limits["x9.odd"].network_cards == (4, 8)


def test_bare_metal_without_hypervisor_still_supports_prefix_delegation() -> None:
    ec2 = stubbed_client("ec2")
    with Stubber(ec2) as stub:
        stub.add_response(
            "describe_instance_types",
            {
                "InstanceTypes": [
                    entry("c5.metal", enis=15, ipv4=50, vcpus=96, hypervisor=None, bare_metal=True)
                ]
            },
        )
        metal = describe_instance_types(ec2, ["c5.metal"])["c5.metal"]
    assert metal.hypervisor == ""
    assert metal.bare_metal
    assert metal.supports_prefix_delegation


def test_unknown_types_are_named_in_one_line() -> None:
    ec2 = stubbed_client("ec2")
    with Stubber(ec2) as stub:
        stub.add_client_error(
            "describe_instance_types",
            service_error_code="InvalidInstanceType",
            service_message=(
                "The following supplied instance types do not exist: [m5.huge, q9.small]"
            ),
            http_status_code=400,
        )
        with pytest.raises(UnknownInstanceTypeError) as raised:
            describe_instance_types(ec2, ["m5.large", "m5.huge", "q9.small"])
    assert isinstance(raised.value, InputError)
    assert str(raised.value) == "unknown instance types: m5.huge, q9.small"
    assert "\n" not in str(raised.value)


def test_a_type_missing_from_the_answer_is_unknown_too() -> None:
    ec2 = stubbed_client("ec2")
    with Stubber(ec2) as stub:
        stub.add_response(
            "describe_instance_types",
            {"InstanceTypes": [entry("m5.large", enis=3, ipv4=10, vcpus=2)]},
        )
        with pytest.raises(UnknownInstanceTypeError, match=r"m5\.gone"):
            describe_instance_types(ec2, ["m5.large", "m5.gone"])


def test_other_errors_are_not_mistaken_for_unknown_types() -> None:
    ec2 = stubbed_client("ec2")
    with Stubber(ec2) as stub:
        stub.add_client_error("describe_instance_types", service_error_code="UnauthorizedOperation")
        with pytest.raises(Exception) as raised:
            describe_instance_types(ec2, ["m5.large"])
    assert not isinstance(raised.value, InputError)
