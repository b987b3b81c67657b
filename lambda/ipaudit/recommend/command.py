"""The exact command that applies aws-node settings, self-managed or as an EKS managed add-on."""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping

from ipaudit.cni.settings import MODELLED_VARIABLES


def apply_command(
    cluster_name: str,
    changes: Mapping[str, str],
    *,
    current_env: Mapping[str, str],
    managed_addon: bool,
) -> str:
    if not managed_addon:
        assignments = " ".join(shlex.quote(f"{name}={value}") for name, value in changes.items())
        return f"kubectl -n kube-system set env daemonset/aws-node {assignments}"
    # The add-on's configuration values replace its configuration: carry over the modelled
    # settings already set so that applying this changes only what it says.
    kept = {name: current_env[name] for name in MODELLED_VARIABLES if current_env.get(name)}
    values = json.dumps({"env": {**kept, **changes}}, separators=(",", ":"))
    return (
        f"aws eks update-addon --cluster-name {shlex.quote(cluster_name)} --addon-name vpc-cni "
        f"--configuration-values {shlex.quote(values)}"
    )
