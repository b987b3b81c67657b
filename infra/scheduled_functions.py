"""The two scheduled functions: the hourly audit and the weekly digest, their roles, their shared
code asset and dead-letter queue, and the EventBridge Scheduler schedules that invoke them.

With context `fan_out`, the hourly audit is the `FanOut` state machine (infra/fan_out.py) instead
of one function: the schedule starts it, and the role member accounts trust collects in its
batches."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import logical_ids
from infra.alerting import Alerting
from infra.bundling import PipLocalBundling, docker_copy_command
from infra.config import LOG_RETENTION_DAYS, DeployConfig
from infra.fan_out import FanOut
from infra.permissions import (
    ORGANIZATIONS_READ_ACTIONS,
    account_read_acknowledgments,
    account_read_statements,
    security_hub_import_statement,
)
from infra.state import State
from ipaudit import metrics

AUDIT_HANDLER = "ipaudit.handler.audit_handler"
DIGEST_HANDLER = "ipaudit.handler.digest_handler"
RUNTIME = lambda_.Runtime.PYTHON_3_12
RUNTIME_PYTHON_VERSION = "3.12"
# What the functions run, relative to lambda/ipaudit: the handlers and everything they import
# (tests/infra/test_function_asset.py checks the list against the handlers' imports). Not the
# CLI (cli/, __main__.py), not the simulators.
PACKAGE = "ipaudit"
FUNCTION_CODE = (
    "__init__.py",
    "handler.py",
    "metrics.py",
    "pipeline.py",
    "settings.py",
    "errors.py",
    "timestamps.py",
    "words.py",
    "loopback.py",
    "redact.py",
    "snapshot.py",
    "report.py",
    "report_codec.py",
    "gc_pause.py",
    "report.schema.json",
    # The renderers the handlers use (not the CLI's CSV and OpenMetrics).
    "render/__init__.py",
    "render/text.py",
    "render/slack_blocks.py",
    "render/asff.py",
    "render/digest_html.py",
    "render/digest_text.py",
    "aws",
    "kube",
    "audit",
    "analysis",
    "cni",
    "capacity",
    "recommend",
    "forecast",
    "alerts",
    "store",
    "notify",
    "digest",
    "fanout",
)
DIGEST_MEMORY_MB = 512
DIGEST_TIMEOUT = cdk.Duration.minutes(5)


@dataclass(frozen=True)
class Asset:
    """Where the function's code is bundled from, and where its dependencies are cached."""

    root: Path
    cache: Path


class ScheduledFunctions(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeployConfig,
        asset: Asset,
        state: State,
        alerting: Alerting,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue = self._dead_letter_queue()
        code = _code(asset, config.architecture)
        environment = {
            **config.settings_env,
            "IPAUDIT_TABLE": state.table.table_name,
            "IPAUDIT_SNS_TOPIC_ARN": alerting.topic.topic_arn,
            "IPAUDIT_SLACK_SECRET_ARN": alerting.slack_secret.secret_arn,
            "POWERTOOLS_SERVICE_NAME": metrics.SERVICE,
            "POWERTOOLS_METRICS_NAMESPACE": metrics.NAMESPACE,
        }

        def grant_pipeline(role: iam.Role) -> None:
            _grant_pipeline(role, state, alerting)
            if config.settings.security_hub:  # the caller's own account's findings
                role.add_to_policy(security_hub_import_statement(config.settings.regions))

        self.audit_role = self._reader_role(config)
        self.audit_function: lambda_.Function | None = None
        self.fan_out: FanOut | None = None
        if config.fan_out:
            self.fan_out = FanOut(
                self,
                "FanOut",
                config=config,
                environment=environment,
                reader_role=self.audit_role,
                grant_pipeline=grant_pipeline,
                make_function=lambda name, **kw: self._function(
                    name, code=code, config=config, **kw
                ),
            )
            collector = self.fan_out.batch_function
        else:
            self.audit_role.add_to_policy(
                iam.PolicyStatement(
                    sid="ListOrganizationAccounts",
                    actions=list(ORGANIZATIONS_READ_ACTIONS),
                    resources=["*"],
                )
            )
            grant_pipeline(self.audit_role)
            self.audit_function = collector = self._function(
                "Audit",
                handler=AUDIT_HANDLER,
                code=code,
                role=self.audit_role,
                config=config,
                environment=environment,
                memory_mb=config.audit_memory_mb,
                timeout=cdk.Duration.minutes(config.audit_timeout_minutes),
                description="ipaudit: hourly audit of pod IP headroom across accounts and regions",
                reserved_concurrency=1,
            )
        if config.vpc_subnet_ids:  # only the collector talks to clusters' private endpoints
            self._place_in_vpc(collector, self.audit_role, config)

        self.digest_role = self._digest_role(config, state)
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

    def _reader_role(self, config: DeployConfig) -> iam.Role:
        """The role that collects: reads this account and assumes the member accounts' roles.
        The single audit function adds the pipeline's grants; the fan-out's batches do not."""
        # A fixed name: every member account's read-only role trusts exactly this role's ARN.
        role = iam.Role(
            self,
            "AuditRole",
            role_name=config.auditor_role_name,
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="ipaudit: the audit function (reads EC2/EKS, assumes the member roles)",
        )
        logical_ids.keep(role, logical_ids.AUDIT_ROLE)
        for statement in account_read_statements():
            role.add_to_policy(statement)
        role.add_to_policy(
            iam.PolicyStatement(
                sid="AssumeMemberReadOnlyRole",
                actions=["sts:AssumeRole"],
                resources=[f"arn:{cdk.Aws.PARTITION}:iam::*:role/{config.settings.role_name}"],
            )
        )
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
        )
        return role

    def _digest_role(self, config: DeployConfig, state: State) -> iam.Role:
        role = iam.Role(
            self,
            "DigestRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="ipaudit: the weekly digest (reads history, sends e-mail)",
        )
        state.grant_read(role)
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
        _grant_metrics(role)
        cdk.Validations.of(role).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions::AwsSolutions-IAM5[Resource::*]",
                reason="cloudwatch:PutMetricData supports no resource-level permissions; it is "
                "limited by the cloudwatch:namespace condition.",
            ),
        )
        return role

    def _function(
        self,
        name: str,
        *,
        handler: str,
        code: lambda_.Code,
        role: iam.Role,
        config: DeployConfig,
        environment: Mapping[str, str],
        memory_mb: int,
        timeout: cdk.Duration,
        description: str,
        reserved_concurrency: int | None = 1,
    ) -> lambda_.Function:
        log_group = logs.LogGroup(
            self,
            f"{name}Logs",
            retention=logs.RetentionDays[LOG_RETENTION_DAYS[config.log_retention_days]],
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        log_group.grant_write(role)
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
            environment=dict(environment),
            memory_size=memory_mb,
            timeout=timeout,
            # Audits and digests run one at a time: two would race on the alert state.
            reserved_concurrent_executions=reserved_concurrency,
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
        logical_ids.cfn_resource(function).add_property_override(
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
            description="ipaudit: lets EventBridge Scheduler start the audit and the digest",
        )
        hour = cdk.Duration.hours(1)
        if self.fan_out is not None:
            # The run id is the execution's (name and start time, which a redrive keeps).
            audit: scheduler.IScheduleTarget = scheduler_targets.StepFunctionsStartExecution(
                self.fan_out.state_machine,
                role=role,
                dead_letter_queue=self.dead_letter_queue,
                retry_attempts=2,
                max_event_age=hour,
            )
            audit_description = "ipaudit: start the audit's fan-out state machine"
        else:
            assert self.audit_function is not None
            # The audit's run id derives from its scheduled time: a retried or duplicated
            # invocation is the same run, and the store and the alert state recognise it.
            audit_input = scheduler.ScheduleTargetInput.from_object(
                {"scheduled_time": scheduler.ContextAttribute.scheduled_time}
            )
            audit = self._invoke(self.audit_function, role, hour, audit_input)
            audit_description = "ipaudit: invoke the audit function"
        scheduler.Schedule(
            self,
            "AuditSchedule",
            schedule=scheduler.ScheduleExpression.expression(config.audit_schedule),
            target=audit,
            description=audit_description,
        )
        scheduler.Schedule(
            self,
            "DigestSchedule",
            schedule=scheduler.ScheduleExpression.expression(
                config.digest_schedule, cdk.TimeZone.of(config.digest_time_zone)
            ),
            target=self._invoke(self.digest_function, role, cdk.Duration.hours(6)),
            description="ipaudit: invoke the digest function",
        )

    def _invoke(
        self,
        function: lambda_.Function,
        role: iam.Role,
        max_age: cdk.Duration,
        target_input: scheduler.ScheduleTargetInput | None = None,
    ) -> scheduler.IScheduleTarget:
        cdk.Validations.of(role).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions::AwsSolutions-IAM5"
                f"[Resource::<{logical_ids.logical_id(function)}.Arn>:*]",
                reason="CDK's grant covers the function's versions and aliases "
                "(<arn>:*); it is still this one function.",
            )
        )
        return scheduler_targets.LambdaInvoke(
            function,
            role=role,
            dead_letter_queue=self.dead_letter_queue,
            retry_attempts=2,
            max_event_age=max_age,
            input=target_input,
        )


def _code(asset: Asset, architecture: str) -> lambda_.Code:
    """One asset for both functions: the package and its runtime dependencies."""
    return lambda_.Code.from_asset(
        str(asset.root),
        bundling=cdk.BundlingOptions(
            image=RUNTIME.bundling_image,
            platform=f"linux/{'arm64' if architecture == 'arm64' else 'amd64'}",
            command=[
                "bash",
                "-c",
                "pip install --no-cache-dir -r requirements.txt -t /asset-output && "
                + docker_copy_command(PACKAGE, FUNCTION_CODE),
            ],
            local=PipLocalBundling(
                asset.root,
                package=PACKAGE,
                include=FUNCTION_CODE,
                architecture=architecture,
                python_version=RUNTIME_PYTHON_VERSION,
                cache_root=asset.cache,
            ),
        ),
    )


def _grant_pipeline(role: iam.Role, state: State, alerting: Alerting) -> None:
    """What runs after collection needs (ipaudit.pipeline): the table, the warnings topic and
    the Slack webhook's secret, the metrics namespace."""
    state.grant_read_write(role)
    alerting.grant_notify(role)
    _grant_metrics(role)
    cdk.Validations.of(role).acknowledge(
        cdk.Acknowledgment(
            id="AwsSolutions::AwsSolutions-IAM5[Resource::*]",
            reason="cloudwatch:PutMetricData supports no resource-level permissions; it is "
            "limited by the cloudwatch:namespace condition.",
        ),
    )


def _grant_metrics(role: iam.Role) -> None:
    # Hand-written: the L2 Metric.grant_put_metric_data has no namespace condition.
    role.add_to_policy(
        iam.PolicyStatement(
            sid="PutMetrics",
            actions=["cloudwatch:PutMetricData"],
            resources=["*"],
            conditions={"StringEquals": {"cloudwatch:namespace": metrics.NAMESPACE}},
        )
    )
