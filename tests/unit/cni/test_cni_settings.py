"""aws-node's env as set, read the way ipamd reads it; bad values are refused by name."""

from __future__ import annotations

import pytest

from ipaudit.cni.cni_settings import CniSettings
from ipaudit.errors import InputError


def test_unset_variables_take_ipamds_defaults() -> None:
    settings = CniSettings.from_env({"AWS_VPC_K8S_CNI_LOGLEVEL": "DEBUG"})
    assert settings == CniSettings(warm_eni_target=1, ip_cooldown_seconds=30)
    assert not settings.warm_ip_targets_defined


def test_values_are_read_as_set() -> None:
    settings = CniSettings.from_env(
        {
            "WARM_ENI_TARGET": "0",
            "WARM_IP_TARGET": " 2 ",
            "MINIMUM_IP_TARGET": "12",
            "ENABLE_PREFIX_DELEGATION": "True",
            "WARM_PREFIX_TARGET": "1",
            "MAX_ENI": "-1",
            "AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG": "false",
            "IP_COOLDOWN_PERIOD": "60",
        }
    )
    assert settings == CniSettings(0, 2, 12, 1, True, 0, False, 60)
    assert settings.warm_ip_targets_defined


def test_an_empty_value_counts_as_unset() -> None:
    assert CniSettings.from_env({"WARM_IP_TARGET": "", "WARM_ENI_TARGET": " "}) == CniSettings()


def test_minimum_without_warm_is_flagged_as_starving() -> None:
    assert CniSettings.from_env({"MINIMUM_IP_TARGET": "10"}).starves_pods
    assert not CniSettings.from_env({"MINIMUM_IP_TARGET": "10", "WARM_IP_TARGET": "1"}).starves_pods


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WARM_IP_TARGET", "two"),
        ("WARM_ENI_TARGET", "-1"),
        ("MINIMUM_IP_TARGET", "1.5"),
        ("MAX_ENI", "-2"),
        ("ENABLE_PREFIX_DELEGATION", "yes"),
        ("AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG", "on"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(InputError) as error:
        CniSettings.from_env({name: value})
    message = str(error.value)
    assert message.startswith(f"{name}: ") and "\n" not in message
