"""The exact command that applies aws-node settings, self-managed or as an EKS managed add-on.

A command changes only what it says. kubectl sets only the changed variables. For a managed
add-on, `update-addon --configuration-values` replaces the whole configuration, so the command
carries the add-on's current configuration with only the recommended env keys changed; when that
configuration could not be read, no such command is given (it would drop what it cannot see),
only the kubectl form with a warning.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from dataclasses import dataclass

from ipaudit.recommend.addon_config import UnreadableConfiguration, parse_configuration, with_env


@dataclass(frozen=True)
class Addon:
    """The vpc-cni managed add-on as DescribeAddon showed it."""

    version: str
    configuration: str | None  # its configurationValues ("" when none); None: not read


@dataclass(frozen=True)
class Applied:
    command: str
    warning: str = ""  # a sentence for the rationale when the command cannot be the usual one


def apply_command(cluster_name: str, changes: Mapping[str, str], addon: Addon | None) -> Applied:
    """How to set `changes` on the cluster's aws-node: `addon` None means self-managed."""
    kubectl = set_env_command(changes)
    if addon is None:
        return Applied(kubectl)
    why = "it was not read"
    if addon.configuration is not None:
        try:
            document = parse_configuration(addon.configuration)
        except UnreadableConfiguration as error:
            why = f"it cannot be read: {error}"
        else:
            values = json.dumps(with_env(document, changes), separators=(",", ":"))
            return Applied(
                f"aws eks update-addon --cluster-name {shlex.quote(cluster_name)} "
                f"--addon-name vpc-cni --configuration-values {shlex.quote(values)}"
            )
    return Applied(
        kubectl,
        warning=(
            f"aws-node is the EKS managed add-on vpc-cni ({addon.version}), but its configuration "
            f"values are not known here ({why}): update-addon --configuration-values replaces "
            f"them all, so no such command is given. The kubectl command sets only these "
            f"variables; EKS may put back the add-on's configuration on its next update, so add "
            f"them to the add-on's configuration values as well."
        ),
    )


def set_env_command(changes: Mapping[str, str]) -> str:
    assignments = " ".join(shlex.quote(f"{name}={value}") for name, value in changes.items())
    return f"kubectl -n kube-system set env daemonset/aws-node {assignments}"
