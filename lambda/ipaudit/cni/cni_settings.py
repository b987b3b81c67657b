"""The aws-node settings the CNI model understands, parsed from the DaemonSet's env as set.

Meanings and defaults follow ipamd (amazon-vpc-cni-k8s v1.23): WARM_IP_TARGET,
MINIMUM_IP_TARGET, WARM_PREFIX_TARGET and MAX_ENI at 0 mean "not set"; WARM_ENI_TARGET is 1
unless set, and 0 is a real value. ipamd silently falls back to the default on a value it cannot
parse; we refuse it instead, because a model run on a guessed value would prove nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ipaudit.errors import InputError

DEFAULT_IP_COOLDOWN_SECONDS = 30

# What Go's strconv.ParseBool accepts, which is what ipamd uses for its boolean variables.
_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})

INT_VARIABLES = (
    "WARM_ENI_TARGET",
    "WARM_IP_TARGET",
    "MINIMUM_IP_TARGET",
    "WARM_PREFIX_TARGET",
    "MAX_ENI",
    "IP_COOLDOWN_PERIOD",
)
BOOL_VARIABLES = (
    "ENABLE_PREFIX_DELEGATION",
    "AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG",
    "ENABLE_POD_ENI",
    "ENABLE_IPv6",
    "ENABLE_MULTI_NIC",
)
MODELLED_VARIABLES = INT_VARIABLES + BOOL_VARIABLES


class CniSettingsError(InputError):
    """An aws-node variable the model cannot use; the message names it."""


@dataclass(frozen=True)
class CniSettings:
    warm_eni_target: int = 1
    warm_ip_target: int = 0
    minimum_ip_target: int = 0
    warm_prefix_target: int = 0
    prefix_delegation: bool = False
    max_eni: int = 0  # 0: the instance's limit
    custom_networking: bool = False
    ip_cooldown_seconds: int = DEFAULT_IP_COOLDOWN_SECONDS
    ipv6: bool = False
    pod_eni: bool = False  # security groups for pods: a trunk ENI takes one of the ENI slots
    multi_nic: bool = False  # ENABLE_MULTI_NIC: aws-node manages every network card

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> CniSettings:
        """Read the modelled variables; others are ignored, an empty value counts as unset."""
        return cls(
            warm_eni_target=_int(env, "WARM_ENI_TARGET", 1),
            warm_ip_target=_int(env, "WARM_IP_TARGET", 0),
            minimum_ip_target=_int(env, "MINIMUM_IP_TARGET", 0),
            warm_prefix_target=_int(env, "WARM_PREFIX_TARGET", 0),
            prefix_delegation=_bool(env, "ENABLE_PREFIX_DELEGATION"),
            # ipamd's own unset value for MAX_ENI is -1.
            max_eni=max(_int(env, "MAX_ENI", 0, minimum=-1), 0),
            custom_networking=_bool(env, "AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG"),
            ip_cooldown_seconds=_int(env, "IP_COOLDOWN_PERIOD", DEFAULT_IP_COOLDOWN_SECONDS),
            ipv6=_bool(env, "ENABLE_IPv6"),
            pod_eni=_bool(env, "ENABLE_POD_ENI"),
            multi_nic=_bool(env, "ENABLE_MULTI_NIC"),
        )

    @property
    def warm_ip_targets_defined(self) -> bool:
        """ipamd's warmIPTargetsDefined: either target switches to per-address accounting."""
        return self.warm_ip_target > 0 or self.minimum_ip_target > 0

    @property
    def starves_pods(self) -> bool:
        """MINIMUM_IP_TARGET without WARM_IP_TARGET caps the pool at the minimum (#2650)."""
        return self.minimum_ip_target > 0 and self.warm_ip_target == 0

    def describe(self) -> str:
        """The settings that decide the pool, as a human would write them."""
        parts = []
        if self.prefix_delegation:
            parts.append("ENABLE_PREFIX_DELEGATION=true")
        if self.warm_ip_targets_defined:
            if self.warm_ip_target:
                parts.append(f"WARM_IP_TARGET={self.warm_ip_target}")
            if self.minimum_ip_target:
                parts.append(f"MINIMUM_IP_TARGET={self.minimum_ip_target}")
        elif self.prefix_delegation:
            parts.append(f"WARM_PREFIX_TARGET={self.warm_prefix_target}")
        else:
            parts.append(f"WARM_ENI_TARGET={self.warm_eni_target}")
        if self.max_eni:
            parts.append(f"MAX_ENI={self.max_eni}")
        if self.custom_networking:
            parts.append("AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG=true")
        if self.pod_eni:
            parts.append("ENABLE_POD_ENI=true")
        return ", ".join(parts)


def _raw(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int = 0) -> int:
    raw = _raw(env, name)
    if raw is None:
        return default
    try:
        value = int(raw, 10)
    except ValueError:
        raise CniSettingsError(f"{name}: must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise CniSettingsError(f"{name}: must be {minimum} or more, got {value}")
    return value


def _bool(env: Mapping[str, str], name: str) -> bool:
    raw = _raw(env, name)
    if raw is None:
        return False
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise CniSettingsError(f"{name}: must be true or false, got {raw!r}")
