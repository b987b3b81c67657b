"""Least privilege, read as a reviewer would: every action the functions may take, and on what."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Template
from cdk_harness import (
    Synth,
    actions_of,
    iter_policy_documents,
    logical_id,
    policy_statements,
    resources_of,
)

# What the brief allows, written out rather than imported from the code under test.
READ_ACTIONS = {
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcs",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeInstances",
    "ec2:DescribeInstanceTypes",
    "ec2:GetSubnetCidrReservations",
    "ec2:DescribeVpcPeeringConnections",
    "servicequotas:GetServiceQuota",
    "autoscaling:DescribeAutoScalingGroups",
    "eks:ListClusters",
    "eks:DescribeCluster",
    "eks:ListNodegroups",
    "eks:DescribeNodegroup",
    "eks:DescribeAddon",
    "organizations:ListAccounts",
    "sts:GetCallerIdentity",
}
TABLE_WRITE_ACTIONS = {
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
}
TABLE_ACTIONS = {"dynamodb:GetItem", "dynamodb:Query", *TABLE_WRITE_ACTIONS}
LOG_ACTIONS = {"logs:CreateLogStream", "logs:PutLogEvents"}
AUDIT_ALLOWED = (
    READ_ACTIONS
    | TABLE_ACTIONS
    | LOG_ACTIONS
    | {
        "sts:AssumeRole",
        "sns:Publish",
        "kms:GenerateDataKey",
        "kms:Decrypt",
        "secretsmanager:GetSecretValue",
        # The L2 grant_read adds it: the one secret's metadata (name, rotation), not its value.
        "secretsmanager:DescribeSecret",
        "cloudwatch:PutMetricData",
        "sqs:SendMessage",  # the function's own dead-letter queue
    }
)
EMAIL = {"email_from": "ipaudit@example.com", "email_to": "platform@example.com"}


def role_statements(template: Template, name: str) -> list[dict[str, Any]]:
    return policy_statements(template, logical_id(template, "AWS::IAM::Role", name))


def granting(statements: list[dict[str, Any]], action: str) -> list[dict[str, Any]]:
    return [s for s in statements if action in actions_of(s)]


@pytest.mark.parametrize("context", [{}, EMAIL])
def test_no_policy_in_either_stack_grants_a_wildcard_action(
    synth: Synth, context: dict[str, str]
) -> None:
    stacks = synth(**context)
    for template in (stacks.auditor, stacks.member):
        for document in iter_policy_documents(template):
            for statement in document["Statement"]:
                for action in actions_of(statement):
                    assert "*" not in action, f"wildcard action {action} in {statement}"


def test_the_audit_role_holds_only_the_actions_the_audit_uses(synth: Synth) -> None:
    statements = role_statements(synth(**EMAIL).auditor, "AuditRole")
    granted = {action for s in statements for action in actions_of(s)}
    assert granted <= AUDIT_ALLOWED, granted - AUDIT_ALLOWED
    assert granted >= READ_ACTIONS | TABLE_ACTIONS
    assert "ses:SendEmail" not in granted  # the digest sends mail, the audit does not


def test_sts_assume_role_only_on_the_member_role_name(synth: Synth) -> None:
    statements = role_statements(synth(role_name="AuditReader").auditor, "AuditRole")
    (statement,) = granting(statements, "sts:AssumeRole")
    assert actions_of(statement) == ["sts:AssumeRole"]
    assert resources_of(statement) == [
        {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::*:role/AuditReader"]]}
    ]


def test_cluster_reads_are_scoped_to_eks_clusters_and_addons(synth: Synth) -> None:
    statements = role_statements(synth().auditor, "AuditRole")
    (clusters,) = granting(statements, "eks:DescribeCluster")
    assert "eks:ListNodegroups" in actions_of(clusters)
    assert _joined(resources_of(clusters)) == [":eks:*:<account>:cluster/*"]
    (addons,) = granting(statements, "eks:DescribeAddon")
    assert _joined(resources_of(addons)) == [":eks:*:<account>:addon/*"]
    (nodegroups,) = granting(statements, "eks:DescribeNodegroup")
    assert _joined(resources_of(nodegroups)) == [":eks:*:<account>:nodegroup/*"]


def test_table_access_is_limited_to_its_table_and_indexes(synth: Synth) -> None:
    auditor = synth().auditor
    table = logical_id(auditor, "AWS::DynamoDB::Table", "Table")
    table_arn = {"Fn::GetAtt": [table, "Arn"]}
    for role in ("AuditRole", "DigestRole"):
        for statement in role_statements(auditor, role):
            if any(a.startswith("dynamodb:") for a in actions_of(statement)):
                assert resources_of(statement) == [
                    table_arn,
                    {"Fn::Join": ["", [table_arn, "/index/*"]]},
                ]


def test_publish_only_to_its_topic_and_read_only_its_slack_secret(synth: Synth) -> None:
    auditor = synth().auditor
    statements = role_statements(auditor, "AuditRole")
    topic = logical_id(auditor, "AWS::SNS::Topic", "Topic")
    secret = logical_id(auditor, "AWS::SecretsManager::Secret", "SlackWebhook")
    (publish,) = granting(statements, "sns:Publish")
    assert resources_of(publish) == [{"Ref": topic}]
    (read_secret,) = granting(statements, "secretsmanager:GetSecretValue")
    assert resources_of(read_secret) == [{"Ref": secret}]
    (encrypt,) = granting(statements, "kms:GenerateDataKey")
    key = logical_id(auditor, "AWS::KMS::Key", "TopicKey")
    assert resources_of(encrypt) == [{"Fn::GetAtt": [key, "Arn"]}]


def test_a_given_slack_secret_is_the_only_one_readable(synth: Synth) -> None:
    arn = "arn:aws:secretsmanager:eu-west-1:111111111111:secret:ipaudit/slack-AbCdEf"
    statements = role_statements(synth(slack_secret_arn=arn).auditor, "AuditRole")
    (read_secret,) = granting(statements, "secretsmanager:GetSecretValue")
    assert resources_of(read_secret) == [arn]


@pytest.mark.parametrize("role", ["AuditRole", "DigestRole"])
def test_metrics_only_in_the_ipaudit_namespace(synth: Synth, role: str) -> None:
    (statement,) = granting(role_statements(synth().auditor, role), "cloudwatch:PutMetricData")
    assert statement["Condition"] == {"StringEquals": {"cloudwatch:namespace": "IpAudit"}}


def test_the_digest_reads_history_and_sends_only_as_the_configured_identity(
    synth: Synth,
) -> None:
    statements = role_statements(synth(**EMAIL).auditor, "DigestRole")
    granted = {action for s in statements for action in actions_of(s)}
    assert granted == {
        "dynamodb:GetItem",
        "dynamodb:Query",
        "ses:SendEmail",
        "cloudwatch:PutMetricData",
        "sqs:SendMessage",
        *LOG_ACTIONS,
    }
    (send,) = granting(statements, "ses:SendEmail")
    assert send["Condition"] == {"StringEquals": {"ses:FromAddress": "ipaudit@example.com"}}
    assert _joined(resources_of(send)) == [
        ":ses:<region>:<account>:identity/ipaudit@example.com",
        ":ses:<region>:<account>:identity/example.com",
        ":ses:<region>:<account>:identity/platform@example.com",
    ]


def test_without_a_sender_the_digest_cannot_send_mail(synth: Synth) -> None:
    statements = role_statements(synth().auditor, "DigestRole")
    assert granting(statements, "ses:SendEmail") == []


def test_no_aws_managed_policies_are_attached(synth: Synth) -> None:
    stacks = synth()
    for template in (stacks.auditor, stacks.member):
        for role in template.find_resources("AWS::IAM::Role").values():
            assert "ManagedPolicyArns" not in role["Properties"]


def _joined(resources: list[Any]) -> list[str]:
    """Render `Fn::Join` ARNs with their pseudo parameters as <region>/<account>."""
    names = {"AWS::Region": "<region>", "AWS::AccountId": "<account>", "AWS::Partition": ""}
    rendered = []
    for resource in resources:
        parts = resource["Fn::Join"][1]
        text = "".join(p if isinstance(p, str) else names[p["Ref"]] for p in parts)
        rendered.append(text.removeprefix("arn:"))
    return rendered


def test_security_hub_import_only_when_enabled_and_only_the_own_default_product(
    synth: Synth,
) -> None:
    off = role_statements(synth().auditor, "AuditRole")
    assert not any(a.startswith("securityhub:") for s in off for a in actions_of(s))
    regions = "eu-west-1,us-east-1"
    on = role_statements(synth(security_hub="true", regions=regions).auditor, "AuditRole")
    (statement,) = [s for s in on if any(a.startswith("securityhub:") for a in actions_of(s))]
    assert actions_of(statement) == ["securityhub:BatchImportFindings"]
    assert sorted(_joined(resources_of(statement))) == [
        ":securityhub:eu-west-1:<account>:product/<account>/default",
        ":securityhub:us-east-1:<account>:product/<account>/default",
    ]


def test_without_regions_security_hub_import_is_in_the_stacks_own_region(synth: Synth) -> None:
    on = role_statements(synth(security_hub="true").auditor, "AuditRole")
    (statement,) = granting(on, "securityhub:BatchImportFindings")
    assert _joined(resources_of(statement)) == [
        ":securityhub:<region>:<account>:product/<account>/default"
    ]
