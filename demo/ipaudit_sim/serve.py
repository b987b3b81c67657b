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
from ipaudit_sim.kubeconfig import KubeconfigCluster, kubeconfig, kubeconfig_file
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


PROD_EXAMPLE = (
    "aws ec2 describe-subnets --query 'Subnets[].[CidrBlock,AvailableIpAddressCount]' --output text"
)


def instructions(
    *,
    aws_endpoint: str,
    region: str,
    prod_credentials: Mapping[str, str],
    management_credentials: Mapping[str, str],
    kubeconfig_path: Path,
    contexts: Sequence[str],
) -> str:
    """What to paste into another shell, and what to try there.

    The exports are the management account's, the identity that audits the organization: a
    user who pastes every export line gets an `ipaudit audit` that reads every cluster. The
    prod account's credentials come as one command's prefix, so they override nothing.
    """
    prod = " ".join(f"{k}={shlex.quote(v)}" for k, v in prod_credentials.items())
    lines = [
        "The simulated organization is running.",
        "",
        "AWS (moto) as the management account, which audits the organization and runs "
        "cluster tools:",
        _exports({"AWS_ENDPOINT_URL": aws_endpoint, "AWS_DEFAULT_REGION": region}),
        _exports(management_credentials),
        "",
        f"Kubernetes (contexts {', '.join(contexts)}; tokens from `ipaudit get-token`):",
        _exports({"KUBECONFIG": str(kubeconfig_path)}),
        "",
        "Try:",
        f"  {shlex.join(token_command())} audit --accounts organization --regions {region}",
        "  kubectl get nodes -o wide",
        "  kubectl get pods -A --chunk-size=3 --context tools",
        "  kubectl get ds aws-node -n kube-system -o yaml",
        "",
        "The prod account, where cluster shop-prod and its exhausted subnets are (its "
        "credentials for one command):",
        f"  {prod} \\",
        f"    {PROD_EXAMPLE}",
        "",
    ]
    return "\n".join(lines)


def serve(kubeconfig_path: Path, *, force: bool = False) -> int:
    """Run until SIGINT or SIGTERM, then stop everything and exit 0.

    The kubeconfig is never a file this run did not create, unless `force`: then the file
    that was there is put back on the way out (ipaudit_sim.kubeconfig.kubeconfig_file).
    """
    path = kubeconfig_path.resolve()
    if not path.parent.is_dir():
        raise InputError(f"--kubeconfig: folder {path.parent} does not exist")
    # Blocked before any server thread starts, so every thread inherits the mask and Ctrl-C
    # waits in sigwait below instead of interrupting start-up halfway.
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        # Claimed before anything starts: a refused FILE costs no server start.
        with (
            kubeconfig_file(path, force=force) as write_kubeconfig,
            article_world(os.environ) as world,
        ):
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
            write_kubeconfig(json.dumps(config, indent=2) + "\n")
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
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    return 0
