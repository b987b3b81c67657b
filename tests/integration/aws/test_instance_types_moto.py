"""describe_instance_types against EC2's real figures as moto serves them over HTTP."""

from __future__ import annotations

import boto3
import pytest

from ipaudit.aws.instance_types import UnknownInstanceTypeError, describe_instance_types
from ipaudit.aws.session import client_config


def test_real_limits_come_back_for_nitro_xen_metal_and_multi_card_types(
    aws: boto3.Session,
) -> None:
    ec2 = aws.client("ec2", config=client_config())
    limits = describe_instance_types(ec2, ["m5.8xlarge", "t2.medium", "c5.metal", "p4d.24xlarge"])
    m5 = limits["m5.8xlarge"]
    assert (m5.max_enis, m5.ipv4_per_eni, m5.vcpus, m5.hypervisor) == (8, 30, 32, "nitro")
    t2 = limits["t2.medium"]
    assert (t2.max_enis, t2.ipv4_per_eni, t2.hypervisor) == (3, 6, "xen")
    assert not t2.supports_prefix_delegation
    metal = limits["c5.metal"]
    assert (metal.hypervisor, metal.bare_metal, metal.supports_prefix_delegation) == (
        "",
        True,
        True,
    )
    assert limits["p4d.24xlarge"].max_enis == 15  # card 0 of 4, not the 60 on all cards


def test_unknown_names_are_reported_by_name(aws: boto3.Session) -> None:
    ec2 = aws.client("ec2", config=client_config())
    with pytest.raises(UnknownInstanceTypeError) as raised:
        describe_instance_types(ec2, ["m5.large", "m5.humongous"])
    assert str(raised.value) == "unknown instance type: m5.humongous"
