"""The tooling account's stack, composed of what it holds:

- `State` (infra/state.py): the table of run history, stored reports and alert state;
- `Alerting` (infra/alerting.py): the encrypted warnings topic and the Slack webhook's secret;
- `ScheduledFunctions` (infra/scheduled_functions.py): the audit and digest functions, their
  least-privilege roles, the shared code asset, dead-letter queue and schedules; with context
  `fan_out`, the audit is the `FanOut` state machine (infra/fan_out.py) and its results bucket;
- `Monitoring` (infra/monitoring.py): the alarms and the CloudWatch dashboard.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from constructs import Construct

from infra.alerting import Alerting
from infra.config import DeployConfig
from infra.monitoring import Monitoring
from infra.scheduled_functions import Asset, ScheduledFunctions
from infra.state import State


class AuditorStack(cdk.Stack):
    """Deployed once per organization, in the tooling account."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeployConfig,
        asset: Asset,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.state = State(self, "State")
        self.alerting = Alerting(
            self, "Alerting", slack_secret_arn=config.settings.slack_secret_arn
        )
        self.functions = ScheduledFunctions(
            self,
            "Functions",
            config=config,
            asset=asset,
            state=self.state,
            alerting=self.alerting,
        )
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            functions=self.functions,
            topic=self.alerting.topic,
            audit_timeout=cdk.Duration.minutes(config.audit_timeout_minutes),
        )

        if self.functions.audit_function is not None:
            cdk.CfnOutput(
                self, "AuditFunctionName", value=self.functions.audit_function.function_name
            )
        if (fan_out := self.functions.fan_out) is not None:
            cdk.CfnOutput(self, "StateMachineArn", value=fan_out.state_machine.state_machine_arn)
            cdk.CfnOutput(self, "ResultsBucketName", value=fan_out.bucket.bucket_name)
        cdk.CfnOutput(self, "AuditRoleArn", value=self.functions.audit_role.role_arn)
        cdk.CfnOutput(self, "TableName", value=self.state.table.table_name)
        cdk.CfnOutput(self, "TopicArn", value=self.alerting.topic.topic_arn)
        cdk.CfnOutput(self, "SlackSecretArn", value=self.alerting.slack_secret.secret_arn)
        cdk.CfnOutput(self, "DashboardName", value=self.monitoring.dashboard.dashboard_name)
