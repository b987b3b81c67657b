"""The audit fanned out on Step Functions (context `fan_out`; docs/deploy.md, "Fan-out"):

    ListTargets -> AuditBatches (Distributed Map over the targets file, batches of
    `fan_out_batch_size`, `fan_out_max_concurrency` at once; each batch runs AuditBatch)
    -> Aggregate

The results bucket holds each run's targets, every target's analysed part and the one report
(ipaudit/fanout/results_bucket.py). A batch that fails is tolerated: the Map goes on and the
aggregate turns its targets into coverage errors. The execution fails, and its alarm fires, only
when listing or aggregating fails.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra.config import LOG_RETENTION_DAYS, DeployConfig
from infra.permissions import ORGANIZATIONS_READ_ACTIONS
from ipaudit.fanout.results_bucket import BUCKET_VARIABLE

LIST_TARGETS_HANDLER = "ipaudit.fanout.handler.list_targets_handler"
AUDIT_BATCH_HANDLER = "ipaudit.fanout.handler.audit_batch_handler"
AGGREGATE_HANDLER = "ipaudit.fanout.handler.aggregate_handler"
# Two hours: twice an hourly run's worth; a run still going by then has stopped making sense.
RUN_TIMEOUT = cdk.Duration.hours(2)
LIST_TARGETS_MEMORY_MB = 512
LIST_TARGETS_TIMEOUT = cdk.Duration.minutes(5)
# Runs are read back within the hour; two weeks leave time to look into a bad run.
RESULTS_RETENTION_DAYS = 14
RUNS_PREFIX = "runs/"
MAP_RESULTS_PREFIX = "map-results"
RESULT_WRITER_V2_FLAG = "@aws-cdk/aws-stepfunctions:useDistributedMapResultWriterV2"
# The context object's execution fields: a redriven execution keeps both, so it is the same run.
EXECUTION = {
    "execution": {
        "name": sfn.JsonPath.string_at("$$.Execution.Name"),
        "started_at": sfn.JsonPath.string_at("$$.Execution.StartTime"),
    }
}


class MakeFunction(Protocol):
    """The stack's way of making a function (log group, runtime, dead-letter queue, ...)."""

    def __call__(
        self,
        name: str,
        *,
        handler: str,
        role: iam.Role,
        environment: Mapping[str, str],
        memory_mb: int,
        timeout: cdk.Duration,
        description: str,
        reserved_concurrency: int | None,
    ) -> lambda_.Function: ...


class FanOut(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeployConfig,
        environment: Mapping[str, str],
        reader_role: iam.Role,
        grant_pipeline: Callable[[iam.Role], None],
        make_function: MakeFunction,
    ) -> None:
        """`reader_role` reads the member accounts (the role they trust); `grant_pipeline` gives
        a role what the single audit needs after collecting (table, topic, secret, metrics,
        Security Hub)."""
        super().__init__(scope, construct_id)
        # ResultWriterV2 renders only under its feature flag; set here, it touches nothing else.
        self.node.set_context(RESULT_WRITER_V2_FLAG, True)
        self.bucket = self._bucket()
        env = {**environment, BUCKET_VARIABLE: self.bucket.bucket_name}
        timeout = cdk.Duration.minutes(config.audit_timeout_minutes)

        self.list_role = _lambda_role(self, "ListTargetsRole", "lists the accounts and regions")
        self.list_role.add_to_policy(
            iam.PolicyStatement(
                sid="ListOrganizationAccounts",
                actions=list(ORGANIZATIONS_READ_ACTIONS),
                resources=["*"],
            )
        )
        self._grant_runs(self.list_role, "WriteRunParts", "s3:PutObject")
        cdk.Validations.of(self.list_role).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions::AwsSolutions-IAM5[Resource::*]",
                reason="organizations:ListAccounts supports no resource-level permissions.",
            ),
            self._runs_acknowledgment(),
        )
        self.list_function = make_function(
            "ListTargets",
            handler=LIST_TARGETS_HANDLER,
            role=self.list_role,
            environment=env,
            memory_mb=LIST_TARGETS_MEMORY_MB,
            timeout=LIST_TARGETS_TIMEOUT,
            description="ipaudit fan-out: lists the accounts x regions to audit",
            reserved_concurrency=None,
        )

        self.batch_role = reader_role
        self._grant_runs(self.batch_role, "WriteRunParts", "s3:PutObject")
        cdk.Validations.of(self.batch_role).acknowledge(self._runs_acknowledgment())
        self.batch_function = make_function(
            "AuditBatch",
            handler=AUDIT_BATCH_HANDLER,
            role=self.batch_role,
            environment=env,
            memory_mb=config.audit_memory_mb,
            timeout=timeout,
            description="ipaudit fan-out: audits one batch of accounts x regions",
            # The Map's MaxConcurrency bounds it; a reservation would only take from the account.
            reserved_concurrency=None,
        )

        # Security Hub findings go into each member account through its read-only role, which
        # trusts only the reader role: with security_hub the aggregate has to run as it too.
        self.aggregate_role = (
            reader_role
            if config.settings.security_hub
            else _lambda_role(self, "AggregateRole", "builds and delivers the report")
        )
        self._grant_runs(self.aggregate_role, "ReadRunParts", "s3:GetObject")
        if self.aggregate_role is not reader_role:  # which already writes parts
            self._grant_runs(self.aggregate_role, "WriteRunParts", "s3:PutObject")
        self.aggregate_role.add_to_policy(
            iam.PolicyStatement(
                sid="ListRunParts",  # which targets' parts a run has (a failed batch's are absent)
                actions=["s3:ListBucket"],
                resources=[self.bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{RUNS_PREFIX}*"]}},
            )
        )
        grant_pipeline(self.aggregate_role)
        cdk.Validations.of(self.aggregate_role).acknowledge(self._runs_acknowledgment())
        self.aggregate_function = make_function(
            "Aggregate",
            handler=AGGREGATE_HANDLER,
            role=self.aggregate_role,
            environment=env,
            memory_mb=config.audit_memory_mb,
            timeout=timeout,
            description="ipaudit fan-out: one report; forecast, history, alerts, notification",
            # One at a time: two overlapping aggregates would race on the alert state.
            reserved_concurrency=1,
        )

        self.timeout = RUN_TIMEOUT
        self.state_machine = self._state_machine(config)

    def _bucket(self) -> s3.Bucket:
        bucket = s3.Bucket(
            self,
            "Results",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    expiration=cdk.Duration.days(RESULTS_RETENTION_DAYS),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
                )
            ],
            removal_policy=cdk.RemovalPolicy.DESTROY,
            auto_delete_objects=False,
        )
        cdk.Validations.of(bucket).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions::AwsSolutions-S1",
                reason="The bucket holds only each fan-out run's intermediate parts, written and "
                "read by the state machine's own roles and expired after "
                f"{RESULTS_RETENTION_DAYS} days; the executions' logs record every run.",
            )
        )
        return bucket

    def _grant_runs(self, role: iam.Role, sid: str, *actions: str) -> None:
        role.add_to_policy(
            iam.PolicyStatement(
                sid=sid,
                actions=list(actions),
                resources=[self.bucket.arn_for_objects(f"{RUNS_PREFIX}*")],
            )
        )

    def _runs_acknowledgment(self) -> cdk.Acknowledgment:
        bucket = cdk.Stack.of(self).resolve(
            _cfn_logical_id(self.bucket.node.default_child)
        )  # the finding names the bucket by its logical id
        return cdk.Acknowledgment(
            id=f"AwsSolutions::AwsSolutions-IAM5[Resource::<{bucket}.Arn>/{RUNS_PREFIX}*]",
            reason="Each run writes and reads its own keys under runs/<run id>/; the run ids "
            "are only known at run time.",
        )

    def _state_machine(self, config: DeployConfig) -> sfn.StateMachine:
        list_targets = self._step("ListTargets", self.list_function, EXECUTION)
        audit_batch = self._step("AuditBatch", self.batch_function, None)  # the Map's batch
        batches = sfn.DistributedMap(
            self,
            "AuditBatches",
            item_reader=sfn.S3JsonItemReader(
                bucket=self.bucket, key=sfn.JsonPath.string_at("$.targets_key")
            ),
            item_batcher=sfn.ItemBatcher(
                max_items_per_batch=config.fan_out_batch_size,
                # Rendered as written: the ".$" suffix is what makes it a path.
                batch_input={"run_id.$": "$.run_id", "generated_at.$": "$.generated_at"},
            ),
            max_concurrency=config.fan_out_max_concurrency,
            # A failed batch is its targets' coverage errors (the aggregate says so), never a
            # failed run.
            tolerated_failure_percentage=100,
            # Written to S3 rather than returned: thousands of batch summaries would exceed the
            # 256 KiB a state may pass on.
            result_writer_v2=sfn.ResultWriterV2(bucket=self.bucket, prefix=MAP_RESULTS_PREFIX),
            result_path=sfn.JsonPath.DISCARD,
            map_execution_type=sfn.StateMachineType.STANDARD,
        )
        batches.item_processor(
            audit_batch,
            mode=sfn.ProcessorMode.DISTRIBUTED,
            execution_type=sfn.ProcessorType.STANDARD,
        )
        aggregate = self._step("Aggregate", self.aggregate_function, EXECUTION)
        log_group = logs.LogGroup(
            self,
            "ExecutionLogs",
            retention=logs.RetentionDays[LOG_RETENTION_DAYS[config.log_retention_days]],
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            definition_body=sfn.DefinitionBody.from_chainable(
                list_targets.next(batches).next(aggregate)
            ),
            comment="ipaudit: one audit run, fanned out over batches of accounts x regions",
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL),
            tracing_enabled=True,
            timeout=self.timeout,
        )
        self._acknowledge_grants(state_machine)
        return state_machine

    def _step(
        self, name: str, function: lambda_.Function, payload: Mapping[str, object] | None
    ) -> tasks.LambdaInvoke:
        """A step that invokes `function` with `payload` (None: the state's input) and passes
        on its answer, retrying Lambda's own transient errors."""
        return tasks.LambdaInvoke(
            self,
            name,
            lambda_function=function,
            payload=None if payload is None else sfn.TaskInput.from_object(dict(payload)),
            payload_response_only=True,
            retry_on_service_exceptions=True,
        )

    def _acknowledge_grants(self, state_machine: sfn.StateMachine) -> None:
        """The wildcards in the grants CDK gives the state machine's role, each for a reason."""
        stack = cdk.Stack.of(self)
        machine = stack.resolve(_cfn_logical_id(state_machine.node.default_child))
        bucket = stack.resolve(_cfn_logical_id(self.bucket.node.default_child))
        executions = (
            "arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:"
            f'{{"Fn::Select":[6,{{"Fn::Split":[":",{{"Ref":"{machine}"}}]}}]}}'
        )
        functions = (self.list_function, self.batch_function, self.aggregate_function)
        cdk.Validations.of(state_machine).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions::AwsSolutions-IAM5[Resource::*]",
                reason="X-Ray tracing and CloudWatch Logs delivery actions support no "
                "resource-level permissions.",
            ),
            *(
                cdk.Acknowledgment(
                    id="AwsSolutions::AwsSolutions-IAM5"
                    f"[Resource::<{stack.resolve(_cfn_logical_id(f.node.default_child))}.Arn>:*]",
                    reason="CDK's invoke grant covers the step's function with its versions and "
                    "aliases (<arn>:*); it is still this one function.",
                )
                for f in functions
            ),
            cdk.Acknowledgment(
                id=f"AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::<{bucket}>/*]",
                reason="The Map reads each run's targets file and writes its results under "
                "prefixes that hold the run's id or map-run id, known only at run time.",
            ),
            *(
                cdk.Acknowledgment(
                    id=f"AwsSolutions::AwsSolutions-IAM5[Resource::{executions}{suffix}]",
                    reason="The Distributed Map starts, describes and stops its own child "
                    "executions of this state machine, whose names are made at run time.",
                )
                for suffix in (":*", "/*:*")
            ),
        )


def _lambda_role(scope: Construct, construct_id: str, does: str) -> iam.Role:
    return iam.Role(
        scope,
        construct_id,
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=f"ipaudit fan-out: the step that {does}",
    )


def _cfn_logical_id(resource: object) -> str:
    assert isinstance(resource, cdk.CfnResource)
    return resource.logical_id
