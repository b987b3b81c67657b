"""The tooling account's stack: the audit and digest functions, schedules, state and alarms."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.bundling import PipLocalBundling
from infra.config import LOG_RETENTION_DAYS, DeployConfig
from infra.permissions import (
    ORGANIZATIONS_READ_ACTIONS,
    account_read_acknowledgments,
    account_read_statements,
)

METRICS_NAMESPACE = "IpAudit"
SERVICE_NAME = "ipaudit"
# The audit handler publishes this metric (Powertools Metrics, dimension service=ipaudit): the
# number of account x region x cluster targets whose coverage entry has status "error".
COVERAGE_ERRORS_METRIC = "CoverageErrors"
AUDIT_HANDLER = "ipaudit.handler.audit_handler"
DIGEST_HANDLER = "ipaudit.handler.digest_handler"
RUNTIME = lambda_.Runtime.PYTHON_3_12
RUNTIME_PYTHON_VERSION = "3.12"
DIGEST_MEMORY_MB = 512
DIGEST_TIMEOUT = cdk.Duration.minutes(5)

TABLE_READ_ACTIONS = ("dynamodb:GetItem", "dynamodb:Query")
TABLE_WRITE_ACTIONS = (
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
)


class AuditorStack(cdk.Stack):
    """Deployed once per organization, in the tooling account."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeployConfig,
        asset_root: Path,
        cache_root: Path,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.table = self._table()
        self.topic_key, self.topic = self._topic()
        self.slack_secret = self._slack_secret(config)
        self.dead_letter_queue = self._dead_letter_queue()
        code = lambda_.Code.from_asset(
            str(asset_root),
            bundling=cdk.BundlingOptions(
                image=RUNTIME.bundling_image,
                platform=f"linux/{'arm64' if config.architecture == 'arm64' else 'amd64'}",
                command=[
                    "bash",
                    "-c",
                    "pip install --no-cache-dir -r requirements.txt -t /asset-output"
                    " && cp -r ipaudit /asset-output/",
                ],
                local=PipLocalBundling(
                    asset_root,
                    package="ipaudit",
                    architecture=config.architecture,
                    python_version=RUNTIME_PYTHON_VERSION,
                    cache_root=cache_root,
                ),
            ),
        )
        environment = self._environment(config)

        self.audit_role = self._audit_role(config)
        self.audit_function = self._function(
            "Audit",
            handler=AUDIT_HANDLER,
            code=code,
            role=self.audit_role,
            config=config,
            environment=environment,
            memory_mb=config.audit_memory_mb,
            timeout=cdk.Duration.minutes(config.audit_timeout_minutes),
            description="ipaudit: hourly audit of pod IP headroom across accounts and regions",
        )
        if config.vpc_subnet_ids:  # only the audit talks to clusters' private endpoints
            self._place_in_vpc(self.audit_function, self.audit_role, config)
        self.digest_role = self._digest_role(config)
        self.digest_function = self._function(
            "Digest",
            handler=DIGEST_HANDLER,
            code=code,
            role=self.digest_role,
            config=config,
            environment=environment,
            memory_mb=DIGEST_MEMORY_MB,
            timeout=DIGEST_TIMEOUT,
            description="ipaudit: weekly e-mail digest from the stored history",
        )
        self._schedules(config)
        self._alarms()

        cdk.CfnOutput(self, "AuditFunctionName", value=self.audit_function.function_name)
        cdk.CfnOutput(self, "AuditRoleArn", value=self.audit_role.role_arn)
        cdk.CfnOutput(self, "TableName", value=self.table.table_name)
        cdk.CfnOutput(self, "TopicArn", value=self.topic.topic_arn)
        cdk.CfnOutput(self, "SlackSecretArn", value=self.slack_secret.secret_arn)

    def _table(self) -> dynamodb.Table:
        table = dynamodb.Table(
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
        table.add_global_secondary_index(
            index_name="gsi1",
            partition_key=dynamodb.Attribute(name="gsi1pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="gsi1sk", type=dynamodb.AttributeType.STRING),
        )
        return table

    def _topic(self) -> tuple[kms.Key, sns.Topic]:
        # A customer managed key: CloudWatch alarms cannot publish to a topic encrypted with the
        # AWS managed aws/sns key, whose policy cannot grant them.
        key = kms.Key(
            self,
            "TopicKey",
            description="ipaudit: encrypts the warnings topic",
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=["*"],  # in a key policy "*" means this key
                conditions={"StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID}},
            )
        )
        topic = sns.Topic(
            self,
            "Topic",
            display_name="ipaudit warnings",
            master_key=key,
            enforce_ssl=True,
        )
        return key, topic

    def _slack_secret(self, config: DeployConfig) -> secretsmanager.ISecret:
        if config.settings.slack_secret_arn is not None:
            return secretsmanager.Secret.from_secret_complete_arn(
                self, "SlackWebhook", config.settings.slack_secret_arn
            )
        secret = secretsmanager.Secret(
            self,
            "SlackWebhook",
            description="ipaudit: the Slack incoming webhook URL (put the URL here yourself)",
            # Not a secret: a placeholder the user overwrites with put-secret-value.
            secret_string_value=cdk.SecretValue.unsafe_plain_text("not-configured"),
        )
        cdk.Validations.of(secret).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions::AwsSolutions-SMG4",
                reason="The Slack webhook URL is rotated in Slack, not by a Secrets Manager "
                "rotation Lambda; the user puts the new URL into the secret.",
            )
        )
        return secret

    def _dead_letter_queue(self) -> sqs.Queue:
        queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=cdk.Duration.days(14),
        )
        cdk.Validations.of(queue).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions::AwsSolutions-SQS3",
                reason="This queue is the dead-letter queue of the schedules and the functions.",
            )
        )
        return queue

    def _environment(self, config: DeployConfig) -> dict[str, str]:
        return {
            **config.settings_env,
            "IPAUDIT_TABLE": self.table.table_name,
            "IPAUDIT_SNS_TOPIC_ARN": self.topic.topic_arn,
            "IPAUDIT_SLACK_SECRET_ARN": self.slack_secret.secret_arn,
            "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
        }

    def _audit_role(self, config: DeployConfig) -> iam.Role:
        # A fixed name: every member account's read-only role trusts exactly this role's ARN.
        role = iam.Role(
            self,
            "AuditRole",
            role_name=config.auditor_role_name,
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="ipaudit: the audit function (reads EC2/EKS, assumes the member roles)",
        )
        for statement in account_read_statements():
            role.add_to_policy(statement)
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ListOrganizationAccounts",
                actions=list(ORGANIZATIONS_READ_ACTIONS),
                resources=["*"],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="AssumeMemberReadOnlyRole",
                actions=["sts:AssumeRole"],
                resources=[f"arn:{cdk.Aws.PARTITION}:iam::*:role/{config.settings.role_name}"],
            )
        )
        self._grant_table(role, TABLE_READ_ACTIONS + TABLE_WRITE_ACTIONS)
        role.add_to_policy(
            iam.PolicyStatement(
                sid="PublishWarnings",
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="EncryptWarnings",
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=[self.topic_key.key_arn],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadSlackWebhook",
                actions=["secretsmanager:GetSecretValue"],
                resources=[self.slack_secret.secret_arn],
            )
        )
        self._grant_metrics(role)
        cdk.Validations.of(role).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions::AwsSolutions-IAM5[Resource::*]",
                reason="EC2 Describe*, eks:ListClusters, sts:GetCallerIdentity and "
                "organizations:ListAccounts support no resource-level permissions; "
                "cloudwatch:PutMetricData is limited by the cloudwatch:namespace condition; "
                "Lambda's VPC network-interface actions (only with vpc_subnet_ids) take '*' too.",
            ),
            cdk.Acknowledgment(
                id="AwsSolutions::AwsSolutions-IAM5"
                f"[Resource::arn:<AWS::Partition>:iam::*:role/{config.settings.role_name}]",
                reason="The audit assumes the read-only role of that one name in every member "
                "account; the member accounts are only known at run time (Organizations).",
            ),
            *account_read_acknowledgments(),
            *self._table_index_acknowledgment(),
        )
        return role

    def _digest_role(self, config: DeployConfig) -> iam.Role:
        role = iam.Role(
            self,
            "DigestRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="ipaudit: the weekly digest (reads history, sends e-mail)",
        )
        self._grant_table(role, TABLE_READ_ACTIONS)
        settings = config.settings
        if settings.email_from is not None:
            identity = f"arn:{cdk.Aws.PARTITION}:ses:{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}:identity"
            domain = settings.email_from.rpartition("@")[2]
            # The sender's address or domain identity, whichever is verified; while the account
            # is in the SES sandbox, SES also authorizes against each recipient's identity.
            identities = dict.fromkeys([settings.email_from, domain, *settings.email_to])
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="SendDigest",
                    actions=["ses:SendEmail"],
                    resources=[f"{identity}/{name}" for name in identities],
                    conditions={"StringEquals": {"ses:FromAddress": settings.email_from}},
                )
            )
        self._grant_metrics(role)
        cdk.Validations.of(role).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions::AwsSolutions-IAM5[Resource::*]",
                reason="cloudwatch:PutMetricData supports no resource-level permissions; it is "
                "limited by the cloudwatch:namespace condition.",
            ),
            *self._table_index_acknowledgment(),
        )
        return role

    def _grant_table(self, role: iam.Role, actions: tuple[str, ...]) -> None:
        role.add_to_policy(
            iam.PolicyStatement(
                sid="UseTable",
                actions=list(actions),
                resources=[self.table.table_arn, f"{self.table.table_arn}/index/*"],
            )
        )

    def _table_index_acknowledgment(self) -> list[cdk.Acknowledgment]:
        return [
            cdk.Acknowledgment(
                id="AwsSolutions::AwsSolutions-IAM5"
                f"[Resource::<{self.get_logical_id(_cfn(self.table))}.Arn>/index/*]",
                reason="Queries go through the table's own global secondary indexes.",
            )
        ]

    def _grant_metrics(self, role: iam.Role) -> None:
        role.add_to_policy(
            iam.PolicyStatement(
                sid="PutMetrics",
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": METRICS_NAMESPACE}},
            )
        )

    def _function(
        self,
        name: str,
        *,
        handler: str,
        code: lambda_.Code,
        role: iam.Role,
        config: DeployConfig,
        environment: dict[str, str],
        memory_mb: int,
        timeout: cdk.Duration,
        description: str,
    ) -> lambda_.Function:
        log_group = logs.LogGroup(
            self,
            f"{name}Logs",
            retention=logs.RetentionDays[LOG_RETENTION_DAYS[config.log_retention_days]],
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[log_group.log_group_arn],
            )
        )
        function = lambda_.Function(
            self,
            f"{name}Function",
            runtime=RUNTIME,
            architecture=(
                lambda_.Architecture.ARM_64
                if config.architecture == "arm64"
                else lambda_.Architecture.X86_64
            ),
            handler=handler,
            code=code,
            role=role,
            environment=environment,
            memory_size=memory_mb,
            timeout=timeout,
            # One at a time: two overlapping audits would race on the alert state.
            reserved_concurrent_executions=1,
            dead_letter_queue=self.dead_letter_queue,
            retry_attempts=0,
            max_event_age=cdk.Duration.hours(1),
            log_group=log_group,
            description=description,
        )
        cdk.Validations.of(function).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions::AwsSolutions-L1",
                reason=f"Python {RUNTIME_PYTHON_VERSION} is the runtime the asset's wheels are "
                "built for (pip --python-version); moving on is a deliberate change.",
            )
        )
        return function

    def _place_in_vpc(
        self, function: lambda_.Function, role: iam.Role, config: DeployConfig
    ) -> None:
        # Subnet and security group ids straight from context: a VPC lookup would need AWS
        # credentials at synth time.
        cfn = _cfn(function)
        cfn.add_property_override(
            "VpcConfig",
            {
                "SubnetIds": list(config.vpc_subnet_ids),
                "SecurityGroupIds": list(config.vpc_security_group_ids),
            },
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="AttachToVpc",
                actions=[
                    "ec2:CreateNetworkInterface",
                    "ec2:DeleteNetworkInterface",
                    "ec2:AssignPrivateIpAddresses",
                    "ec2:UnassignPrivateIpAddresses",
                ],
                resources=["*"],
            )
        )

    def _schedules(self, config: DeployConfig) -> None:
        role = iam.Role(
            self,
            "SchedulerRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID}},
            ),
            description="ipaudit: lets EventBridge Scheduler invoke the two functions",
        )
        schedules = (
            ("Audit", self.audit_function, config.audit_schedule, None, cdk.Duration.hours(1)),
            (
                "Digest",
                self.digest_function,
                config.digest_schedule,
                cdk.TimeZone.of(config.digest_time_zone),
                cdk.Duration.hours(6),
            ),
        )
        for name, function, expression, time_zone, max_age in schedules:
            scheduler.Schedule(
                self,
                f"{name}Schedule",
                schedule=scheduler.ScheduleExpression.expression(expression, time_zone),
                target=scheduler_targets.LambdaInvoke(
                    function,
                    role=role,
                    dead_letter_queue=self.dead_letter_queue,
                    retry_attempts=2,
                    max_event_age=max_age,
                ),
                description=f"ipaudit: invoke the {name.lower()} function",
            )
            cdk.Validations.of(role).acknowledge(
                cdk.Acknowledgment(
                    id="AwsSolutions::AwsSolutions-IAM5"
                    f"[Resource::<{self.get_logical_id(_cfn(function))}.Arn>:*]",
                    reason="CDK's grant covers the function's versions and aliases "
                    "(<arn>:*); it is still this one function.",
                )
            )

    def _alarms(self) -> None:
        hour = cdk.Duration.hours(1)
        alarms = {
            "AuditErrors": (
                self.audit_function.metric_errors(period=hour),
                "The audit function failed (see its log group).",
            ),
            "DigestErrors": (
                self.digest_function.metric_errors(period=hour),
                "The weekly digest function failed (see its log group).",
            ),
            "DeadLetters": (
                self.dead_letter_queue.metric_approximate_number_of_messages_visible(
                    period=cdk.Duration.minutes(5), statistic="Maximum"
                ),
                "A scheduled invocation failed and is waiting in the dead-letter queue.",
            ),
            "CoverageErrors": (
                cloudwatch.Metric(
                    namespace=METRICS_NAMESPACE,
                    metric_name=COVERAGE_ERRORS_METRIC,
                    dimensions_map={"service": SERVICE_NAME},
                    statistic="Sum",
                    period=hour,
                ),
                "The audit could not read some accounts, regions or clusters (coverage errors).",
            ),
        }
        action = cloudwatch_actions.SnsAction(self.topic)
        for name, (metric, description) in alarms.items():
            alarm = cloudwatch.Alarm(
                self,
                f"{name}Alarm",
                metric=metric,
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description=f"ipaudit: {description}",
            )
            alarm.add_alarm_action(action)
            alarm.add_ok_action(action)


def _cfn(construct: Construct) -> cdk.CfnResource:
    child = construct.node.default_child
    assert isinstance(child, cdk.CfnResource)
    return child
