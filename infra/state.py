"""The auditor's state: one DynamoDB table for the run history, stored reports and alert state."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra import logical_ids

READ_ACTIONS = ("dynamodb:GetItem", "dynamodb:Query")
WRITE_ACTIONS = (
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
)


class State(Construct):
    """The table, and grants of exactly the item actions the functions use (the L2
    `grant_read_data` would add Scan, BatchGetItem, DescribeTable and stream reads)."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            time_to_live_attribute="expires_at",
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        self.table.add_global_secondary_index(
            index_name="gsi1",
            partition_key=dynamodb.Attribute(name="gsi1pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="gsi1sk", type=dynamodb.AttributeType.STRING),
        )
        logical_ids.keep(self.table, logical_ids.TABLE)

    def grant_read(self, role: iam.Role) -> None:
        self.table.grant(role, *READ_ACTIONS)
        self._acknowledge_indexes(role)

    def grant_read_write(self, role: iam.Role) -> None:
        self.table.grant(role, *READ_ACTIONS, *WRITE_ACTIONS)
        self._acknowledge_indexes(role)

    def _acknowledge_indexes(self, role: iam.Role) -> None:
        table_id = logical_ids.logical_id(self.table)
        cdk.Validations.of(role).acknowledge(
            cdk.Acknowledgment(
                id=f"AwsSolutions::AwsSolutions-IAM5[Resource::<{table_id}.Arn>/index/*]",
                reason="Queries go through the table's own global secondary indexes.",
            )
        )
