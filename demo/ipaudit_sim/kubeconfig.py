"""A kubeconfig for the simulated clusters: https with each cluster's CA, and a user whose exec
plugin is `ipaudit get-token`, so kubectl needs neither the AWS CLI nor any exported variable."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ipaudit.errors import InputError
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


def backup_path(path: Path) -> Path:
    """Where a file replaced under --force waits to be put back, beside it."""
    return path.with_name(f".{path.name}.ipaudit-demo-backup")


@contextmanager
def kubeconfig_file(path: Path, *, force: bool) -> Iterator[Callable[[str], None]]:
    """Yields `write(text)` for the kubeconfig at `path`; on leaving, `path` is as it was.

    A file that was not there is created here and removed on leaving. One that was there is
    refused unless `force`; with `force` it is replaced while the demo runs and put back on
    leaving. Until then it waits, hard-linked, in `backup_path(path)`: a demo killed with
    SIGKILL loses nothing, and the next one refuses to start until the backup is moved.
    """
    if path.is_dir():
        raise InputError(f"--kubeconfig: {path} is a folder; name a file")
    existed = os.path.lexists(path)
    if existed and not force:
        raise InputError(
            f"--kubeconfig: {path} already exists; name another FILE, or add --force to "
            "replace it while the demo runs (it is put back when the demo stops)"
        )
    backup = backup_path(path)
    if os.path.lexists(backup):
        raise InputError(
            f"--kubeconfig: {backup} is left from a demo that did not stop cleanly and holds "
            f"{path} as it was: move it back (mv {backup} {path}) or away first"
        )
    try:
        if existed:
            os.link(path, backup, follow_symlinks=False)  # the very file, mode and all
        else:
            # Created, not just checked: a file appearing meanwhile is not written over.
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError as error:
        raise InputError(f"--kubeconfig: cannot write beside {path}: {error.strerror}") from None
    try:
        yield lambda text: _write_private(path, text)
    finally:
        if existed:
            os.replace(backup, path)
        else:
            path.unlink(missing_ok=True)  # its endpoints and credentials die with this run


def _write_private(path: Path, text: str) -> None:
    """Written whole or not at all, readable by its owner only (it holds credentials)."""
    partial = path.with_name(f".{path.name}.partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)
    partial.replace(path)
