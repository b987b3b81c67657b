"""Helpers for the CDK app's tests: in-process synthesis, the real CDK CLI, and IAM policy
lookups in synthesized templates."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk.assertions import Template

from infra.app import AUDITOR_STACK

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Synthesized:
    auditor: Template
    member: Template


Synth = Callable[..., Synthesized]


def cdk_json_context() -> dict[str, Any]:
    context: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]
    return context


def cdk_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the pinned CDK CLI as `make synth` does: offline, with no AWS credentials."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_", "IPAUDIT_"))}
    env.update(
        PATH=f"{ROOT / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        CDK_DISABLE_VERSION_CHECK="1",
        CDK_DISABLE_CLI_TELEMETRY="true",
    )
    npx = shutil.which("npx")
    assert npx is not None, "npx (Node.js) is needed to run the CDK CLI"
    return subprocess.run(
        [npx, "--no-install", "cdk", *args, "--no-notices"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


@dataclass(frozen=True)
class CloudAssembly:
    path: Path

    def template(self, stack: str) -> dict[str, Any]:
        template: dict[str, Any] = json.loads((self.path / f"{stack}.template.json").read_text())
        return template

    def report(self) -> dict[str, Any]:
        """The policy validation report (cdk-nag's findings and acknowledgments)."""
        report: dict[str, Any] = json.loads((self.path / "validation-report.json").read_text())
        return report

    def asset_dir(self) -> Path:
        """The directory of the functions' code asset."""
        manifest = json.loads((self.path / f"{AUDITOR_STACK}.assets.json").read_text())
        dirs: set[Path] = {
            self.path / str(entry["source"]["path"])
            for entry in manifest["files"].values()
            if entry["source"].get("packaging") == "zip"
        }
        assert len(dirs) == 1, f"expected one code asset shared by both functions, got {dirs}"
        return dirs.pop()


def policy_statements(template: Template, role_logical_id: str) -> list[dict[str, Any]]:
    """Every statement of the inline policies attached to one role."""
    statements: list[dict[str, Any]] = []
    for policy in template.find_resources("AWS::IAM::Policy").values():
        roles = policy["Properties"].get("Roles", [])
        if {"Ref": role_logical_id} in roles:
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return statements


def actions_of(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else list(actions)


def resources_of(statement: dict[str, Any]) -> list[Any]:
    resources = statement["Resource"]
    return resources if isinstance(resources, list) else [resources]


def logical_id(template: Template, resource_type: str, path_fragment: str) -> str:
    """The logical id of the one resource of a type whose id contains `path_fragment`."""
    ids = [i for i in template.find_resources(resource_type) if path_fragment in i]
    assert len(ids) == 1, f"expected one {resource_type} named like {path_fragment}, got {ids}"
    return ids[0]


def iter_policy_documents(template: Template) -> Iterator[dict[str, Any]]:
    """Identity policies: inline IAM policies and roles' own policies."""
    for policy in template.find_resources("AWS::IAM::Policy").values():
        yield policy["Properties"]["PolicyDocument"]
    for role in template.find_resources("AWS::IAM::Role").values():
        for policy in role["Properties"].get("Policies", []):
            yield policy["PolicyDocument"]


def dashboard_body(template: Template) -> dict[str, Any]:
    """The one dashboard's body as JSON, CloudFormation references rendered as `<Ref>` and
    `<LogicalId.Arn>` inside the strings that hold them."""
    (dashboard,) = template.find_resources("AWS::CloudWatch::Dashboard").values()
    parts = dashboard["Properties"]["DashboardBody"]["Fn::Join"][1]

    def render(part: str | dict[str, Any]) -> str:
        if isinstance(part, str):
            return part
        if "Ref" in part:
            return f"<{part['Ref']}>"
        resource, attribute = part["Fn::GetAtt"]
        return f"<{resource}.{attribute}>"

    body: dict[str, Any] = json.loads("".join(render(p) for p in parts))
    return body
