"""The EC2 calls ipamd makes: the price of a tight warm pool, counted per API."""

from __future__ import annotations

from ipaudit.cni import CniSettings, simulate
from ipaudit.snapshot import InstanceTypeLimits

M5_8XLARGE = InstanceTypeLimits("m5.8xlarge", 8, 30, 32, "nitro")
NEW_ENI = (
    "DescribeInstances",
    "CreateNetworkInterface",
    "AttachNetworkInterface",
    "ModifyNetworkInterfaceAttribute",
)
FREED_ENI = ("DescribeNetworkInterfaces", "DetachNetworkInterface", "DeleteNetworkInterface")


def _calls(env: dict[str, str], steps: list[int]) -> dict[str, int]:
    return dict(simulate(M5_8XLARGE, CniSettings.from_env(env), steps, placement="pack").ec2_calls)


def test_warm_eni_target_fills_the_primary_once_then_creates_whole_enis() -> None:
    calls = _calls({}, [100])
    assert calls["AssignPrivateIpAddresses"] == 1
    assert all(calls[api] == 4 for api in NEW_ENI)
    assert calls["total"] == 17


def test_detaching_an_eni_costs_three_calls() -> None:
    calls = _calls({}, [100, 10])  # three ENIs go
    assert all(calls[api] == 3 for api in FREED_ENI)
    assert calls["total"] == 17 + 9


def test_warm_ip_target_asks_for_the_shortfall_each_pass() -> None:
    # 2 addresses per pass until 10 pods have one and 2 are warm: 6 calls.
    calls = _calls({"WARM_IP_TARGET": "2"}, [10])
    assert calls["AssignPrivateIpAddresses"] == 6
    assert calls["total"] == 6


def test_minimum_ip_target_prescales_in_few_calls() -> None:
    # 29 on the primary, then the 30th on a new ENI.
    calls = _calls({"WARM_IP_TARGET": "2", "MINIMUM_IP_TARGET": "30"}, [10])
    assert calls["AssignPrivateIpAddresses"] == 1
    assert calls["CreateNetworkInterface"] == 1
    assert calls["total"] == 5


def test_warm_ip_target_releases_cost_unassign_calls() -> None:
    calls = _calls({"WARM_IP_TARGET": "2"}, [40, 5])
    assert calls["UnassignPrivateIpAddresses"] >= 1


def test_prefix_delegation_adds_one_prefix_per_call() -> None:
    calls = _calls({"ENABLE_PREFIX_DELEGATION": "true", "WARM_PREFIX_TARGET": "1"}, [100])
    assert calls["AssignPrivateIpAddresses"] == 8
    assert calls["total"] == 8


def test_every_api_is_reported_even_when_never_called() -> None:
    calls = _calls({}, [0])
    assert set(calls) == {
        "AssignPrivateIpAddresses",
        "UnassignPrivateIpAddresses",
        *NEW_ENI,
        *FREED_ENI,
        "total",
    }
    assert calls["total"] == 1


def test_a_step_reports_its_own_calls() -> None:
    steps = simulate(M5_8XLARGE, CniSettings(), [100, 10], placement="pack").steps
    assert [step.ec2_calls for step in steps] == [17, 9]
