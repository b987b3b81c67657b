"""`ipaudit demo --serve`: the simulated organization, kept running to explore with the tools
people already have (the aws CLI, boto3, kubectl, ipaudit itself) until Ctrl-C.

It prints the AWS endpoint and credentials, writes a kubeconfig (https with each cluster's CA, a
user whose exec plugin is `ipaudit get-token`) and ends with a readiness line a script can wait
for.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from ipaudit.errors import InputError
from ipaudit_sim.article import REGION
from ipaudit_sim.aws import FAKE_CREDENTIALS
from ipaudit_sim.kubeconfig import KubeconfigCluster, kubeconfig
from ipaudit_sim.world import article_world

READY = "ipaudit demo --serve: ready; Ctrl-C stops it"
_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def token_command() -> list[str]:
    """How a kubeconfig runs this ipaudit: its console script when installed, else `python -m`."""
    script = Path(sys.executable).parent / "ipaudit"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "ipaudit"]


def _exports(variables: Mapping[str, str]) -> str:
    return "  export " + " ".join(f"{k}={shlex.quote(v)}" for k, v in variables.items())


def instructions(
    *,
    aws_endpoint: str,
    region: str,
    prod_credentials: Mapping[str, str],
    management_credentials: Mapping[str, str],
    kubeconfig_path: Path,
    contexts: Sequence[str],
) -> str:
    """What to paste into another shell, and what to try there."""
    lines = [
        "The simulated organization is running.",
        "",
        "AWS (moto) as the prod account, where cluster shop-prod and its exhausted subnets are:",
        _exports({"AWS_ENDPOINT_URL": aws_endpoint, "AWS_DEFAULT_REGION": region}),
        _exports(prod_credentials),
        "  (the management account, which runs cluster tools and audits the organization:",
        "   " + " ".join(f"{k}={v}" for k, v in management_credentials.items()) + ")",
        "",
        f"Kubernetes (contexts {', '.join(contexts)}; tokens from `ipaudit get-token`):",
        _exports({"KUBECONFIG": str(kubeconfig_path)}),
        "",
        "Try:",
        "  aws ec2 describe-subnets --query 'Subnets[].[CidrBlock,AvailableIpAddressCount]'",
        "  kubectl get nodes -o wide",
        "  kubectl get pods -A --chunk-size=3 --context tools",
        "  kubectl get ds aws-node -n kube-system -o yaml",
        "",
    ]
    return "\n".join(lines)


def _write_private(path: Path, text: str) -> None:
    """Written whole or not at all, readable by its owner only (it holds credentials)."""
    partial = path.with_name(f".{path.name}.partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)
    partial.replace(path)


def serve(kubeconfig_path: Path) -> int:
    """Run until SIGINT or SIGTERM, then stop everything and exit 0."""
    path = kubeconfig_path.resolve()
    if not path.parent.is_dir():
        raise InputError(f"--kubeconfig: folder {path.parent} does not exist")
    # Blocked before any server thread starts, so every thread inherits the mask and Ctrl-C
    # waits in sigwait below instead of interrupting start-up halfway.
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        with article_world(os.environ) as world:
            prod = world.session.client("sts").assume_role(
                RoleArn=f"arn:aws:iam::{world.organization.prod_account}:role/"
                "OrganizationAccountAccessRole",
                RoleSessionName="demo",
            )["Credentials"]
            prod_credentials = {
                "AWS_ACCESS_KEY_ID": prod["AccessKeyId"],
                "AWS_SECRET_ACCESS_KEY": prod["SecretAccessKey"],
                "AWS_SESSION_TOKEN": prod["SessionToken"],
            }
            clusters = [
                KubeconfigCluster(name, a.server, a.ca_data, a.role_arn)
                for name, a in world.access.items()
            ]
            aws_env = {"AWS_ENDPOINT_URL": world.aws_endpoint, **FAKE_CREDENTIALS}
            config = kubeconfig(clusters, token_command(), aws_env, REGION)
            _write_private(path, json.dumps(config, indent=2) + "\n")
            try:
                sys.stdout.write(
                    instructions(
                        aws_endpoint=world.aws_endpoint,
                        region=REGION,
                        prod_credentials=prod_credentials,
                        management_credentials=FAKE_CREDENTIALS,
                        kubeconfig_path=path,
                        contexts=[c.name for c in clusters],
                    )
                )
                print(READY, flush=True)
                received = signal.sigwait(_STOP_SIGNALS)
                print(f"\nipaudit demo --serve: {signal.Signals(received).name}, stopping")
            finally:
                path.unlink(missing_ok=True)  # its endpoints and credentials die with this run
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    return 0
