"""`ipaudit get-token`: an ExecCredential kubectl can use, holding a token the cluster accepts."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from ipaudit_sim.aws import MotoServer
from ipaudit_sim.kube_api import KubeApiServer

ROLE = "arn:aws:iam::210987654321:role/PlatformReadOnly"


def get_token(*args: str, **env_extra: str) -> subprocess.CompletedProcess[str]:
    """`ipaudit get-token ARGS` with the test's environment (pointed at moto by `aws`)."""
    env = {k: v for k, v in os.environ.items() if k != "KUBERNETES_EXEC_INFO"}
    env.update(env_extra)
    return subprocess.run(
        [sys.executable, "-m", "ipaudit", "get-token", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def credential(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_prints_an_exec_credential_like_aws_eks_get_token(
    aws: boto3.Session, moto_server: MotoServer
) -> None:
    before = datetime.now(UTC).replace(microsecond=0)

    printed = credential(get_token("--cluster-name", "prod"))

    assert (printed["kind"], printed["apiVersion"]) == (
        "ExecCredential",
        "client.authentication.k8s.io/v1beta1",
    )
    expires = datetime.strptime(printed["status"]["expirationTimestamp"], "%Y-%m-%dT%H:%M:%SZ")
    # kubectl reuses the token until then: 14 minutes, one less than EKS accepts it for.
    assert timedelta(minutes=14) <= expires.replace(tzinfo=UTC) - before < timedelta(minutes=15)
    with KubeApiServer("prod", sts_endpoint=moto_server.url) as kube:
        assert kube.handle("/api/v1/nodes", f"Bearer {printed['status']['token']}")[0] == 200


def test_with_a_role_arn_the_token_is_the_roles_and_only_that_role_is_let_in(
    aws: boto3.Session, moto_server: MotoServer
) -> None:
    as_role = credential(get_token("--cluster-name", "prod", "--role-arn", ROLE))
    as_caller = credential(get_token("--cluster-name", "prod"))

    with KubeApiServer("prod", sts_endpoint=moto_server.url, allowed_arns=[ROLE]) as kube:
        assert kube.handle("/api/v1/nodes", f"Bearer {as_role['status']['token']}")[0] == 200
        assert kube.handle("/api/v1/nodes", f"Bearer {as_caller['status']['token']}")[0] == 401


def test_answers_in_the_exec_credential_version_kubectl_asks_for(aws: boto3.Session) -> None:
    info = {"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential"}

    printed = credential(get_token("--cluster-name", "prod", KUBERNETES_EXEC_INFO=json.dumps(info)))

    assert printed["apiVersion"] == "client.authentication.k8s.io/v1"


@pytest.mark.parametrize(
    ("args", "env_extra", "expected"),
    [
        (
            ["--role-arn", "PlatformReadOnly"],
            {},
            "--role-arn: 'PlatformReadOnly' is not an IAM role ARN",
        ),
        (
            [],
            {"KUBERNETES_EXEC_INFO": '{"apiVersion": "client.authentication.k8s.io/v1alpha1"}'},
            "KUBERNETES_EXEC_INFO: apiVersion 'client.authentication.k8s.io/v1alpha1' is not",
        ),
    ],
)
def test_bad_input_is_one_line_and_prints_no_credential(
    aws: boto3.Session, args: list[str], env_extra: dict[str, str], expected: str
) -> None:
    done = get_token("--cluster-name", "prod", *args, **env_extra)

    assert done.returncode == 1
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.startswith(f"ipaudit: error: {expected}")


@pytest.mark.skipif(shutil.which("aws") is None, reason="the AWS CLI is not installed here")
def test_it_prints_what_aws_eks_get_token_prints_and_both_tokens_get_in(
    aws: boto3.Session, moto_server: MotoServer
) -> None:
    theirs = subprocess.run(
        ["aws", "eks", "get-token", "--cluster-name", "prod", "--region", "eu-west-1"],
        env={k: v for k, v in os.environ.items() if k != "KUBERNETES_EXEC_INFO"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert theirs.returncode == 0, theirs.stderr
    aws_cli = json.loads(theirs.stdout)

    ours = credential(get_token("--cluster-name", "prod"))

    assert (ours["kind"], ours["apiVersion"]) == (aws_cli["kind"], aws_cli["apiVersion"])
    assert set(ours["status"]) == set(aws_cli["status"]) == {"expirationTimestamp", "token"}
    with KubeApiServer("prod", sts_endpoint=moto_server.url) as kube:
        for printed in (ours, aws_cli):
            assert kube.handle("/api/v1/nodes", f"Bearer {printed['status']['token']}")[0] == 200
