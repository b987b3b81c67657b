"""Commands that change only what they say, for a self-managed aws-node and the managed add-on.

`update-addon --configuration-values` replaces the add-on's whole configuration: applying the
command's document must leave every key the user configured as it was, except the recommended
env variables.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

import pytest

from ipaudit.recommend.command import Addon, apply_command

CHANGES = {"WARM_IP_TARGET": "4", "MINIMUM_IP_TARGET": "14"}

SECURITY_GROUPS_FOR_PODS = {
    "env": {
        "ENABLE_POD_ENI": "true",
        "POD_SECURITY_GROUP_ENFORCING_MODE": "standard",
        "AWS_VPC_K8S_CNI_EXTERNALSNAT": "true",
        "WARM_IP_TARGET": "10",
    },
    "init": {"env": {"DISABLE_TCP_EARLY_DEMUX": "true"}},
}
CUSTOM_NETWORKING = {
    "env": {
        "AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG": "true",
        "ENI_CONFIG_LABEL_DEF": "topology.kubernetes.io/zone",
    },
    "eniConfig": {
        "create": True,
        "region": "eu-west-1",
        "subnets": {"a": {"id": "subnet-0a", "securityGroups": ["sg-1"]}},
    },
}
NETWORK_POLICY_AND_RESOURCES = {
    "enableNetworkPolicy": "true",
    "nodeAgent": {"enablePolicyEventLogs": "true", "healthProbeBindAddr": "8163"},
    "resources": {"requests": {"cpu": "25m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
    "tolerations": [{"operator": "Exists"}],
}
YAML_CONFIGURATION = """\
env:
  ENABLE_POD_ENI: "true"
  POD_SECURITY_GROUP_ENFORCING_MODE: strict
nodeAgent:
  enablePolicyEventLogs: "true"
resources:
  requests:
    cpu: 25m
"""


def _leaves(document: Any, path: str = "") -> dict[str, Any]:
    if isinstance(document, dict):
        found: dict[str, Any] = {}
        for key, value in document.items():
            found |= _leaves(value, f"{path}{key}.")
        return found
    if isinstance(document, list):
        return {f"{path}{i}": json.dumps(item, sort_keys=True) for i, item in enumerate(document)}
    return {path.rstrip("."): document}


def _applied_document(command: str, cluster: str) -> Any:
    words = shlex.split(command)
    assert words[:8] == [
        "aws",
        "eks",
        "update-addon",
        "--cluster-name",
        cluster,
        "--addon-name",
        "vpc-cni",
        "--configuration-values",
    ]
    assert len(words) == 9
    return json.loads(words[8])


def _changed_paths(before: Any, after: Any) -> set[str]:
    old, new = _leaves(before), _leaves(after)
    return {path for path in old.keys() | new.keys() if old.get(path) != new.get(path)}


@pytest.mark.parametrize(
    "configuration",
    [SECURITY_GROUPS_FOR_PODS, CUSTOM_NETWORKING, NETWORK_POLICY_AND_RESOURCES],
    ids=["security-groups-for-pods", "custom-networking", "network-policy-and-resources"],
)
def test_the_addon_command_changes_only_the_recommended_env_keys(
    configuration: dict[str, Any],
) -> None:
    addon = Addon("v1.19.2-eksbuild.1", json.dumps(configuration))
    applied = apply_command("shop-prod", CHANGES, addon)
    document = _applied_document(applied.command, "shop-prod")
    assert _changed_paths(configuration, document) == {
        "env.WARM_IP_TARGET",
        "env.MINIMUM_IP_TARGET",
    }
    assert document["env"]["WARM_IP_TARGET"] == "4"
    assert document["env"]["MINIMUM_IP_TARGET"] == "14"
    assert applied.warning == ""


def test_a_yaml_configuration_is_carried_over_whole() -> None:
    applied = apply_command("shop-prod", CHANGES, Addon("v1.19.2", YAML_CONFIGURATION))
    document = _applied_document(applied.command, "shop-prod")
    assert document == {
        "env": {
            "ENABLE_POD_ENI": "true",
            "POD_SECURITY_GROUP_ENFORCING_MODE": "strict",
            "WARM_IP_TARGET": "4",
            "MINIMUM_IP_TARGET": "14",
        },
        "nodeAgent": {"enablePolicyEventLogs": "true"},
        "resources": {"requests": {"cpu": "25m"}},
    }


def test_an_addon_without_configuration_gets_only_the_changes() -> None:
    applied = apply_command("shop-prod", {"WARM_IP_TARGET": "4"}, Addon("v1.19.2", ""))
    assert _applied_document(applied.command, "shop-prod") == {"env": {"WARM_IP_TARGET": "4"}}


def test_the_cluster_name_is_quoted_for_the_shell() -> None:
    applied = apply_command("team's cluster", {"WARM_IP_TARGET": "4"}, Addon("v1", ""))
    assert _applied_document(applied.command, "team's cluster") == {"env": {"WARM_IP_TARGET": "4"}}


@pytest.mark.parametrize(
    ("configuration", "why"),
    [
        (None, "it was not read"),
        ("env: [unclosed", "it cannot be read: neither JSON nor YAML"),
        ("- a list", "it cannot be read: not a mapping of settings"),
        ("env:\n  WARM_IP_TARGET: 4\n", "env: not a mapping of variable names to strings"),
        ("startedAt: 2026-11-27\n", "startedAt: a date, which JSON cannot carry"),
    ],
    ids=["not-read", "broken", "not-a-mapping", "env-not-strings", "yaml-date"],
)
def test_an_unreadable_configuration_gets_kubectl_and_a_warning(
    configuration: str | None, why: str
) -> None:
    applied = apply_command("shop-prod", CHANGES, Addon("v1.19.2-eksbuild.1", configuration))
    assert applied.command == (
        "kubectl -n kube-system set env daemonset/aws-node WARM_IP_TARGET=4 MINIMUM_IP_TARGET=14"
    )
    assert "update-addon" not in applied.command
    assert "vpc-cni (v1.19.2-eksbuild.1)" in applied.warning
    assert why in applied.warning
    assert "no such command is given" in applied.warning


def test_a_self_managed_aws_node_gets_kubectl_setting_only_the_changes() -> None:
    applied = apply_command("shop-prod", {"WARM_IP_TARGET": "2"}, None)
    assert applied.command == "kubectl -n kube-system set env daemonset/aws-node WARM_IP_TARGET=2"
    assert applied.warning == ""
