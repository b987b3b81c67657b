"""The member accounts' stack: the read-only role the audit assumes, and nothing else.

Deploy it in each member account (`cdk deploy IpAuditMemberRole`), or as a CloudFormation
StackSet from the synthesized template.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.config import DeployConfig
from infra.permissions import (
    account_read_acknowledgments,
    account_read_statements,
    security_hub_import_statement,
)


class MemberRoleStack(cdk.Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: DeployConfig, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        auditor_account = config.auditor_account or cdk.Aws.ACCOUNT_ID
        auditor_role_arn = (
            f"arn:{cdk.Aws.PARTITION}:iam::{auditor_account}:role/{config.auditor_role_name}"
        )
        # Trust the auditor's account, narrowed to the audit function's role by its ARN: unlike a
        # role principal, this deploys before the auditor exists and survives its re-creation.
        conditions: dict[str, Any] = {"ArnEquals": {"aws:PrincipalArn": auditor_role_arn}}
        if config.settings.external_id is not None:
            conditions["StringEquals"] = {"sts:ExternalId": config.settings.external_id}
        self.role = iam.Role(
            self,
            "ReadOnlyRole",
            role_name=config.settings.role_name,
            assumed_by=iam.ArnPrincipal(
                f"arn:{cdk.Aws.PARTITION}:iam::{auditor_account}:root"
            ).with_conditions(conditions),
            max_session_duration=cdk.Duration.hours(1),
            description="ipaudit: read-only access for the auditor's function",
        )
        for statement in account_read_statements():
            self.role.add_to_policy(statement)
        if config.settings.security_hub:
            # The one write: the audit imports this account's findings as this account.
            self.role.add_to_policy(security_hub_import_statement(config.settings.regions))
        cdk.Validations.of(self.role).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions::AwsSolutions-IAM5[Resource::*]",
                reason="EC2 Describe*, eks:ListClusters and sts:GetCallerIdentity support no "
                "resource-level permissions.",
            ),
            *account_read_acknowledgments(),
        )
        cdk.CfnOutput(self, "ReadOnlyRoleArn", value=self.role.role_arn)
