"""`cdk synth` through the pinned CLI, offline and without AWS credentials, as `make synth` runs
it: both templates, cdk-nag's verdict, and the function's bundled asset."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_sqs as sqs
from cdk_harness import CloudAssembly, cdk_cli, cdk_json_context

from infra.app import AUDITOR_STACK, MEMBER_ROLE_STACK, build
from infra.bundling import runtime_python
from infra.scheduled_functions import RUNTIME_PYTHON_VERSION

pytestmark = pytest.mark.synth

RUNTIME_PACKAGES = ["ipaudit", "boto3", "aws_lambda_powertools", "kubernetes", "requests"]
DEVELOPMENT_PACKAGES = ["moto", "pytest", "_pytest", "aws_cdk", "cdk_nag", "jsii", "constructs"]


def test_both_templates_are_synthesized(cloud_assembly: CloudAssembly) -> None:
    auditor = cloud_assembly.template(AUDITOR_STACK)
    member = cloud_assembly.template(MEMBER_ROLE_STACK)
    auditor_types = {r["Type"] for r in auditor["Resources"].values()}
    assert {"AWS::Lambda::Function", "AWS::Scheduler::Schedule", "AWS::DynamoDB::Table"} <= (
        auditor_types
    )
    member_types = {r["Type"] for r in member["Resources"].values()}
    assert {"AWS::IAM::Role", "AWS::IAM::Policy"} <= member_types
    assert "AWS::Lambda::Function" not in member_types


def test_cdk_nag_passes_with_a_specific_reason_for_every_acknowledgment(
    cloud_assembly: CloudAssembly,
) -> None:
    report = cloud_assembly.report()
    (nag,) = [p for p in report["pluginReports"] if p["pluginName"] == "AwsSolutions"]
    assert nag["conclusion"] == "success"
    assert nag["violations"] == []
    reasons: dict[str, str] = {}
    for violation in nag["suppressedViolations"]:
        # Acknowledged on the resource that needs it, never wholesale on a stack or the app.
        assert violation["acknowledgedAt"] not in ("", AUDITOR_STACK, MEMBER_ROLE_STACK)
        assert len(violation["reason"]) > 40, violation
        reasons.setdefault(violation["acknowledgedId"], violation["reason"])
    assert len(set(reasons.values())) >= len(reasons) - 4  # reasons are specific, not one blanket


def test_an_unacknowledged_cdk_nag_error_fails_synthesis(tmp_path: Path) -> None:
    context = {**cdk_json_context(), "aws:cdk:bundling-stacks": []}
    app = cdk.App(context=context, outdir=str(tmp_path))
    auditor, _ = build(app)
    sqs.Queue(auditor, "QueueWithoutSsl")  # AwsSolutions-SQS3/SQS4
    with pytest.raises(RuntimeError, match="AwsSolutions-SQS"):
        app.synth()


def test_the_asset_holds_ipaudit_and_its_runtime_dependencies_only(
    cloud_assembly: CloudAssembly,
) -> None:
    asset = cloud_assembly.asset_dir()
    present = {p.name for p in asset.iterdir()}
    assert set(RUNTIME_PACKAGES) <= present
    assert not present & set(DEVELOPMENT_PACKAGES)
    assert (asset / "ipaudit" / "handler.py").is_file()


def test_every_module_is_precompiled_for_the_runtimes_python(
    cloud_assembly: CloudAssembly,
) -> None:
    """A `.pyc` beside every module, for Python 3.12, hash-based and unchecked: CDK zips every
    file with one fixed date, so timestamp-checked ones would be recompiled at every cold start
    (issue 26: 0.8 s of CPU to import the handler without them, 0.3 s with)."""
    if runtime_python(RUNTIME_PYTHON_VERSION) is None:
        pytest.skip(f"no Python {RUNTIME_PYTHON_VERSION} on this machine to compile with")
    asset = cloud_assembly.asset_dir()
    tag = "cpython-" + RUNTIME_PYTHON_VERSION.replace(".", "")
    modules = [p for p in asset.rglob("*.py") if "__pycache__" not in p.parts]
    assert len(modules) > 1000  # the package and its dependencies
    missing = []
    for module in modules:
        compiled = module.parent / "__pycache__" / f"{module.stem}.{tag}.pyc"
        if not compiled.is_file():
            missing.append(module)
            continue
        flags = int.from_bytes(compiled.read_bytes()[4:8], "little")
        assert flags == 0b01, compiled  # hash-based (bit 0), source not checked (bit 1 clear)
    assert missing == []
    stray = [p for p in asset.rglob("*.pyc") if f".{tag}." not in p.name]
    assert stray == []  # nothing compiled for this machine's own Python


def test_the_asset_holds_nothing_of_the_simulators_the_cli_or_the_tests(
    cloud_assembly: CloudAssembly,
) -> None:
    asset = cloud_assembly.asset_dir()
    assert not (asset / "ipaudit_sim").exists()
    package = asset / "ipaudit"
    assert not (package / "sim").exists()
    assert not (package / "cli").exists()  # the command line, `ipaudit demo` with it
    assert not (package / "__main__.py").exists()
    assert [p.name for p in package.rglob("*") if p.name.startswith(("test_", "conftest"))] == []
    for module in package.rglob("*.py"):
        text = module.read_text()
        assert "ipaudit_sim" not in text and "import moto" not in text, module


def test_the_handlers_import_from_the_asset_alone_in_a_fresh_interpreter(
    cloud_assembly: CloudAssembly,
) -> None:
    # The bundle holds arm64 (aarch64) wheels for Python 3.12 while this machine is x86_64 with
    # Python 3.11: every dependency is pure Python or ships a pure fallback for its optional C
    # extension (PyYAML, aiohttp, multidict, yarl, ...), so the import proves the bundle is
    # complete. -I -S: no site-packages, no PYTHONPATH, only the standard library and the asset;
    # -B: no .pyc of this Python left in the asset beside the runtime's.
    asset = cloud_assembly.asset_dir()
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "import ipaudit.handler as h; "
        "assert callable(h.audit_handler) and callable(h.digest_handler); "
        "import boto3; assert boto3.__file__.startswith(sys.argv[1]); print('ok')"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", code, str(asset)],
        capture_output=True,
        text=True,
        check=False,
        cwd=asset.parent,
        env={"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "eu-west-1"},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_a_bad_context_value_fails_cdk_synth_naming_the_key(tmp_path: Path) -> None:
    result = cdk_cli("synth", "--quiet", "-c", "accounts=12345", "--output", str(tmp_path))
    assert result.returncode != 0
    assert (
        "ipaudit: context 'accounts' (IPAUDIT_ACCOUNTS): '12345' is not a 12-digit account id"
        in result.stderr
    )
