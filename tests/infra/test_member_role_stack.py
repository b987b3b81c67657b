"""The member accounts' read-only role: who may assume it, and exactly what it may read."""

from __future__ import annotations

from cdk_harness import Synth, actions_of, logical_id, policy_statements

# The audit's read-only actions in a member account (Organizations is read by the auditor only).
MEMBER_ACTIONS = {
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
    "sts:GetCallerIdentity",
}
AUDITOR = "123456789012"


def test_the_role_grants_exactly_the_audits_read_only_actions(synth: Synth) -> None:
    member = synth(auditor_account=AUDITOR).member
    role = logical_id(member, "AWS::IAM::Role", "ReadOnlyRole")
    granted = {a for s in policy_statements(member, role) for a in actions_of(s)}
    assert granted == MEMBER_ACTIONS
    member.resource_count_is("AWS::IAM::Role", 1)


def test_quotas_are_read_only_for_the_two_network_address_usage_codes(synth: Synth) -> None:
    member = synth(auditor_account=AUDITOR).member
    role = logical_id(member, "AWS::IAM::Role", "ReadOnlyRole")
    (statement,) = [
        s
        for s in policy_statements(member, role)
        if "servicequotas:GetServiceQuota" in actions_of(s)
    ]
    assert actions_of(statement) == ["servicequotas:GetServiceQuota"]
    codes = {
        part.rsplit("/", 1)[-1]
        for resource in statement["Resource"]
        for part in resource["Fn::Join"][1]
        if isinstance(part, str) and "/" in part
    }
    assert codes == {"L-BB24F6E5", "L-CD17FD4B"}


def test_with_security_hub_its_one_write_is_importing_its_own_accounts_findings(
    synth: Synth,
) -> None:
    member = synth(auditor_account=AUDITOR, security_hub="true", regions="eu-west-1").member
    role = logical_id(member, "AWS::IAM::Role", "ReadOnlyRole")
    statements = policy_statements(member, role)
    assert {a for s in statements for a in actions_of(s)} == MEMBER_ACTIONS | {
        "securityhub:BatchImportFindings"
    }
    (statement,) = [s for s in statements if "securityhub:BatchImportFindings" in actions_of(s)]
    assert statement["Resource"] == {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":securityhub:eu-west-1:",
                {"Ref": "AWS::AccountId"},
                ":product/",
                {"Ref": "AWS::AccountId"},
                "/default",
            ],
        ]
    }


def test_only_the_auditors_function_role_may_assume_it(synth: Synth) -> None:
    member = synth(auditor_account=AUDITOR).member
    member.has_resource_properties(
        "AWS::IAM::Role",
        {
            "RoleName": "IpAuditReadOnly",
            "MaxSessionDuration": 3600,
            "AssumeRolePolicyDocument": {
                "Statement": [
                    {
                        "Action": "sts:AssumeRole",
                        "Effect": "Allow",
                        "Principal": {
                            "AWS": {
                                "Fn::Join": [
                                    "",
                                    ["arn:", {"Ref": "AWS::Partition"}, f":iam::{AUDITOR}:root"],
                                ]
                            }
                        },
                        "Condition": {
                            "ArnEquals": {
                                "aws:PrincipalArn": {
                                    "Fn::Join": [
                                        "",
                                        [
                                            "arn:",
                                            {"Ref": "AWS::Partition"},
                                            f":iam::{AUDITOR}:role/IpAuditAuditor",
                                        ],
                                    ]
                                }
                            }
                        },
                    }
                ]
            },
        },
    )


def test_an_external_id_is_required_when_configured(synth: Synth) -> None:
    member = synth(auditor_account=AUDITOR, external_id="ipaudit-ext-1").member
    (role,) = member.find_resources("AWS::IAM::Role").values()
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Condition"]["StringEquals"] == {"sts:ExternalId": "ipaudit-ext-1"}


def test_role_names_follow_context(synth: Synth) -> None:
    member = synth(
        auditor_account=AUDITOR, role_name="AuditReader", auditor_role_name="OrgAuditor"
    ).member
    (role,) = member.find_resources("AWS::IAM::Role").values()
    assert role["Properties"]["RoleName"] == "AuditReader"
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    principal_arn = statement["Condition"]["ArnEquals"]["aws:PrincipalArn"]["Fn::Join"][1]
    assert principal_arn[-1] == f":iam::{AUDITOR}:role/OrgAuditor"


def test_without_an_auditor_account_the_role_trusts_its_own_account(synth: Synth) -> None:
    (role,) = synth().member.find_resources("AWS::IAM::Role").values()
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert {"Ref": "AWS::AccountId"} in statement["Principal"]["AWS"]["Fn::Join"][1]


def test_the_template_needs_no_cdk_bootstrap_so_it_deploys_as_a_stackset(synth: Synth) -> None:
    template = synth().member.to_json()
    assert "Parameters" not in template  # no BootstrapVersion parameter
    assert "Rules" not in template  # no CheckBootstrapVersion rule
