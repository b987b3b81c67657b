"""Build the CDK app: both stacks from validated context, with cdk-nag on every synth."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra.auditor_stack import AuditorStack
from infra.config import DeployConfig
from infra.member_role_stack import MemberRoleStack
from infra.scheduled_functions import Asset

ROOT = Path(__file__).resolve().parent.parent
AUDITOR_STACK = "IpAudit"
MEMBER_ROLE_STACK = "IpAuditMemberRole"


def build(app: cdk.App, *, root: Path = ROOT) -> tuple[AuditorStack, MemberRoleStack]:
    """Add both stacks to `app`; a bad context value raises ContextError before any construct."""
    config = DeployConfig.from_context(app.node.try_get_context)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    auditor = AuditorStack(
        app,
        AUDITOR_STACK,
        config=config,
        asset=Asset(root=root / "lambda", cache=root / ".cache" / "lambda-deps"),
        description="ipaudit: audits EKS pod IP headroom across the organization",
    )
    member = MemberRoleStack(
        app,
        MEMBER_ROLE_STACK,
        config=config,
        description="ipaudit: read-only role for the auditor, one per member account",
        # No assets: deploys with the caller's credentials, needs no `cdk bootstrap` in member
        # accounts, and its template (no bootstrap version rule) works as a StackSet as is.
        synthesizer=cdk.CliCredentialsStackSynthesizer(),
    )
    return auditor, member
