"""`ipaudit demo --serve`: the article's organization stays up for the aws CLI, boto3 and kubectl
until Ctrl-C, and the printed instructions are all a user needs."""

from __future__ import annotations

import json
import os
import queue
import shlex
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest

from ipaudit_sim.serve import READY

KUBECTL = shutil.which("kubectl")
STARTUP_BOUND = 300  # seconds: a bound on a hang, not a wait for timing


@dataclass
class Served:
    process: subprocess.Popen[str]
    printed: list[str]  # stdout up to the readiness line
    later: queue.Queue[str | None]  # stdout after it; None once it closed
    exports: dict[str, str] = field(default_factory=dict)
    kubeconfig: Path = Path()


def shell_lines(lines: list[str]) -> list[list[str]]:
    """The printed lines as a shell reads them: a line ending in a backslash goes on."""
    joined = "\n".join(lines).replace("\\\n", " ")
    return [shlex.split(line) for line in joined.splitlines()]


def exports(lines: list[str]) -> dict[str, str]:
    """The `export A=1 B=2` lines, as a shell would read them (the first of each name wins)."""
    variables: dict[str, str] = {}
    for words in shell_lines(lines):
        if words[:1] == ["export"]:
            for word in words[1:]:
                name, _, value = word.partition("=")
                variables.setdefault(name, value)
    return variables


def one_command(lines: list[str], word: str) -> tuple[dict[str, str], list[str]]:
    """The one printed command with `word` in it: the NAME=VALUE assignments before it (for
    that command only, as a shell reads them), and the command's words."""
    [words] = [words for words in shell_lines(lines) if word in words]
    start = next(i for i, w in enumerate(words) if "=" not in w)
    return dict(w.split("=", 1) for w in words[:start]), words[start:]


def clean_env() -> dict[str, str]:
    """A shell with no AWS, ipaudit or Kubernetes settings of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "IPAUDIT_", "KUBE"))}
    env["AWS_CONFIG_FILE"] = env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    return env


def start_serving(folder: Path, *args: str) -> Served:
    process = subprocess.Popen(
        [sys.executable, "-m", "ipaudit", "demo", "--serve", *args],
        cwd=folder,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    printed: list[str] = []
    while (line := lines.get(timeout=STARTUP_BOUND)) != READY:
        assert line is not None, f"demo --serve exited: {process.communicate()[1]}"
        printed.append(line)
    served = Served(process, printed, lines, exports(printed))
    served.kubeconfig = Path(served.exports["KUBECONFIG"])
    return served


def stop(served: Served) -> tuple[int, list[str], str]:
    """Ctrl-C, then what it printed after the readiness line, its exit code and stderr."""
    served.process.send_signal(signal.SIGINT)
    after = []
    while (line := served.later.get(timeout=STARTUP_BOUND)) is not None:
        after.append(line)
    code = served.process.wait(timeout=STARTUP_BOUND)
    assert served.process.stderr is not None
    return code, after, served.process.stderr.read()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    served = start_serving(tmp_path_factory.mktemp("serve"), "--kubeconfig", "demo.kubeconfig")
    yield served
    if served.process.poll() is None:
        served.process.kill()
        served.process.wait()


def test_the_printed_prod_credentials_show_the_articles_subnets(served: Served) -> None:
    prod, command = one_command(served.printed, "aws")
    ec2 = boto3.client(
        "ec2",
        endpoint_url=served.exports["AWS_ENDPOINT_URL"],
        region_name=served.exports["AWS_DEFAULT_REGION"],
        aws_access_key_id=prod["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=prod["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=prod["AWS_SESSION_TOKEN"],
    )

    subnets = {
        s["CidrBlock"]: s["AvailableIpAddressCount"] for s in ec2.describe_subnets()["Subnets"]
    }

    assert command[:3] == ["aws", "ec2", "describe-subnets"]
    assert served.exports["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
    assert {cidr: subnets[cidr] for cidr in ("10.0.0.0/22", "10.0.4.0/22")} == {
        "10.0.0.0/22": 0,
        "10.0.4.0/22": 0,
    }


def test_the_exports_pasted_whole_audit_the_organization_and_read_every_cluster(
    served: Served,
) -> None:
    _, command = one_command(served.printed, "audit")
    done = subprocess.run(
        [*command, "--json"],
        env={**clean_env(), **served.exports},
        capture_output=True,
        text=True,
        timeout=STARTUP_BOUND,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    coverage = json.loads(done.stdout)["coverage"]
    assert {c["cluster"] for c in coverage} == {
        "shop-prod",
        "tools",
        "payments",
        "batch",
        "search",
    }
    assert all(c["status"] == "ok" for c in coverage), coverage


def test_the_kubeconfig_is_https_with_a_ca_and_ipaudits_token_command(served: Served) -> None:
    config = json.loads(served.kubeconfig.read_text())

    assert {c["name"] for c in config["clusters"]} == {
        "shop-prod",
        "tools",
        "payments",
        "batch",
        "search",
    }
    assert all(c["cluster"]["server"].startswith("https://127.0.0.1:") for c in config["clusters"])
    assert all(c["cluster"]["certificate-authority-data"] for c in config["clusters"])
    exec_plugin = config["users"][0]["user"]["exec"]
    assert "get-token" in exec_plugin["args"]
    assert oct(served.kubeconfig.stat().st_mode & 0o777) == "0o600"


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed on this machine")
def test_kubectl_reads_the_simulated_clusters(served: Served, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "KUBE"))}
    env["KUBECONFIG"] = str(served.kubeconfig)

    def kubectl(*args: str) -> str:
        assert KUBECTL is not None
        done = subprocess.run(
            [KUBECTL, "--cache-dir", str(tmp_path), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    nodes = kubectl("get", "nodes", "-o", "wide").splitlines()
    pods = kubectl("get", "pods", "-A", "--chunk-size=3", "--context", "tools").splitlines()
    daemonset = kubectl("get", "ds", "aws-node", "-n", "kube-system", "-o", "yaml")

    assert nodes[0].split()[:5] == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert len(nodes) == 1 + 20  # shop-prod's registered nodes, the article's cluster
    assert len(pods) == 1 + 10 + 4  # tools: 10 app pods, aws-node and kube-proxy on 2 nodes
    assert "desiredNumberScheduled: 20" in daemonset


def test_ctrl_c_stops_it_cleanly_and_removes_the_kubeconfig_it_created(served: Served) -> None:
    code, after, stderr = stop(served)

    assert code == 0, stderr
    assert after[-1] == "ipaudit demo --serve: SIGINT, stopping"
    assert "Traceback" not in stderr
    assert not served.kubeconfig.exists()


def test_serve_with_report_flags_is_refused_in_one_line_before_anything_starts(
    tmp_path: Path,
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ipaudit", "demo", "--serve", "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 1
    assert done.stderr.strip() == (
        "ipaudit: error: --serve runs no audit: --output and --fail-on do not apply to it"
    )
    assert list(tmp_path.iterdir()) == []  # no kubeconfig written


def test_an_existing_kubeconfig_is_refused_in_one_line_naming_it_and_force(
    tmp_path: Path,
) -> None:
    mine = tmp_path / "config"
    mine.write_text("my own clusters\n")

    done = subprocess.run(
        [sys.executable, "-m", "ipaudit", "demo", "--serve", "--kubeconfig", str(mine)],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert line.startswith(f"ipaudit: error: --kubeconfig: {mine} already exists;")
    assert "--force" in line
    assert done.stdout == ""
    assert mine.read_text() == "my own clusters\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config"]


def test_with_force_an_existing_kubeconfig_is_replaced_while_serving_and_put_back(
    tmp_path: Path,
) -> None:
    mine = tmp_path / "config"
    mine.write_text("my own clusters\n")
    mine.chmod(0o640)

    served = start_serving(tmp_path, "--kubeconfig", str(mine), "--force")
    try:
        while_serving = json.loads(mine.read_text())
    finally:
        code, _, stderr = stop(served)

    assert code == 0, stderr
    assert {c["name"] for c in while_serving["clusters"]} >= {"shop-prod", "tools"}
    assert mine.read_text() == "my own clusters\n"
    assert oct(mine.stat().st_mode & 0o777) == "0o640"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config"]  # no backup left over
