"""What the audit may read in an account: the same statements for the auditor's own account and
for the read-only role in every member account, so the two can never drift apart."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam

# These accept no resource-level permissions (the service authorizes them on "*" only).
UNSCOPED_READ_ACTIONS = (
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcs",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeInstances",
    "ec2:DescribeInstanceTypes",
    "ec2:GetSubnetCidrReservations",
    # Same-region peerings: they share the peered Network Address Usage quota.
    "ec2:DescribeVpcPeeringConnections",
    "autoscaling:DescribeAutoScalingGroups",
    "eks:ListClusters",
    "sts:GetCallerIdentity",
)
CLUSTER_READ_ACTIONS = ("eks:DescribeCluster", "eks:ListNodegroups")
NODEGROUP_READ_ACTIONS = ("eks:DescribeNodegroup",)
ADDON_READ_ACTIONS = ("eks:DescribeAddon",)
ORGANIZATIONS_READ_ACTIONS = ("organizations:ListAccounts",)
# The two Network Address Usage quotas (ipaudit/aws/nau.py), and only those.
QUOTA_READ_ACTIONS = ("servicequotas:GetServiceQuota",)
NAU_QUOTA_CODES = ("L-BB24F6E5", "L-CD17FD4B")

READ_ONLY_ACTIONS = (
    UNSCOPED_READ_ACTIONS
    + CLUSTER_READ_ACTIONS
    + NODEGROUP_READ_ACTIONS
    + ADDON_READ_ACTIONS
    + QUOTA_READ_ACTIONS
)


def account_read_statements() -> list[iam.PolicyStatement]:
    """Read EC2 networking and EKS clusters of the stack's own account, in any region."""
    eks = f"arn:{cdk.Aws.PARTITION}:eks:*:{cdk.Aws.ACCOUNT_ID}"
    return [
        iam.PolicyStatement(
            sid="ReadNetworkAndClusterList",
            actions=list(UNSCOPED_READ_ACTIONS),
            resources=["*"],
        ),
        iam.PolicyStatement(
            sid="ReadClusters",
            actions=list(CLUSTER_READ_ACTIONS),
            resources=[f"{eks}:cluster/*"],
        ),
        iam.PolicyStatement(
            sid="ReadNodegroups",
            actions=list(NODEGROUP_READ_ACTIONS),
            resources=[f"{eks}:nodegroup/*"],
        ),
        iam.PolicyStatement(
            sid="ReadAddons",
            actions=list(ADDON_READ_ACTIONS),
            resources=[f"{eks}:addon/*"],
        ),
        iam.PolicyStatement(
            sid="ReadNetworkAddressUsageQuotas",
            actions=list(QUOTA_READ_ACTIONS),
            resources=[_quota_arn(cdk.Aws.PARTITION, code) for code in NAU_QUOTA_CODES],
        ),
    ]


def _quota_arn(partition: str, code: str) -> str:
    # A quota's ARN names the region and, once applied, the account: any of either.
    return f"arn:{partition}:servicequotas:*:*:vpc/{code}"


def account_read_acknowledgments() -> list[cdk.Acknowledgment]:
    """cdk-nag's IAM5 findings on `account_read_statements`, each with its reason."""
    eks = "arn:<AWS::Partition>:eks:*:<AWS::AccountId>"
    return [
        cdk.Acknowledgment(
            id=f"AwsSolutions::AwsSolutions-IAM5[Resource::{eks}:cluster/*]",
            reason="The audit describes every EKS cluster of the account, in every region.",
        ),
        cdk.Acknowledgment(
            id=f"AwsSolutions::AwsSolutions-IAM5[Resource::{eks}:nodegroup/*]",
            reason="The audit reads where every node group of the account launches nodes.",
        ),
        cdk.Acknowledgment(
            id=f"AwsSolutions::AwsSolutions-IAM5[Resource::{eks}:addon/*]",
            reason="The audit reads the vpc-cni add-on of every cluster of the account.",
        ),
        *(
            cdk.Acknowledgment(
                id="AwsSolutions::AwsSolutions-IAM5"
                f"[Resource::{_quota_arn('<AWS::Partition>', code)}]",
                reason="The audit reads this Network Address Usage quota in every region; "
                "a quota's ARN carries the account only once a value is applied.",
            )
            for code in NAU_QUOTA_CODES
        ),
    ]


def security_hub_import_statement(regions: tuple[str, ...] | None) -> iam.PolicyStatement:
    """Import findings under the stack's own account's default product, in the audited regions
    (the stack's own region when none are configured): BatchImportFindings with the default
    product is called by the account the findings belong to."""
    account = cdk.Aws.ACCOUNT_ID
    return iam.PolicyStatement(
        sid="ImportFindingsIntoSecurityHub",
        actions=["securityhub:BatchImportFindings"],
        resources=[
            f"arn:{cdk.Aws.PARTITION}:securityhub:{region}:{account}:product/{account}/default"
            for region in (regions or (cdk.Aws.REGION,))
        ],
    )
