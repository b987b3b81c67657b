"""A kubeconfig for the simulated clusters: https with each cluster's CA, and a user whose exec
plugin is `ipaudit get-token`, so kubectl needs neither the AWS CLI nor any exported variable."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ipaudit.kube.token import EXEC_CREDENTIAL_V1BETA1


@dataclass(frozen=True)
class KubeconfigCluster:
    name: str
    server: str
    ca_data: str  # base64 PEM
    role_arn: str | None  # assumed by the exec plugin before it signs the token


def kubeconfig(
    clusters: Sequence[KubeconfigCluster],
    token_command: Sequence[str],
    aws_env: Mapping[str, str],
    region: str,
) -> dict[str, Any]:
    """One cluster, user and context per cluster; the first cluster's context is current.

    `token_command` runs ipaudit (e.g. `[".../ipaudit"]`); `aws_env` (the endpoint and the
    credentials the plugin signs with) is handed to it through the exec plugin's `env`.
    """
    users = []
    for cluster in clusters:
        args = [*token_command[1:], "get-token", "--cluster-name", cluster.name]
        args += ["--region", region]
        if cluster.role_arn:
            args += ["--role-arn", cluster.role_arn]
        exec_plugin = {
            "apiVersion": EXEC_CREDENTIAL_V1BETA1,
            "command": token_command[0],
            "args": args,
            "env": [{"name": k, "value": v} for k, v in sorted(aws_env.items())],
            "interactiveMode": "Never",
            "provideClusterInfo": False,
        }
        users.append({"name": cluster.name, "user": {"exec": exec_plugin}})
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [
            {
                "name": c.name,
                "cluster": {"server": c.server, "certificate-authority-data": c.ca_data},
            }
            for c in clusters
        ],
        "users": users,
        "contexts": [
            {"name": c.name, "context": {"cluster": c.name, "user": c.name}} for c in clusters
        ],
        "current-context": clusters[0].name if clusters else "",
    }
