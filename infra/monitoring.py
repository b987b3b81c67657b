"""What on-call watches: the alarms (each publishes to the warnings topic) and one CloudWatch
dashboard with the audit's own metrics beside them.

To watch something new, add an `AlarmSpec` to `_alarm_specs` (it appears on the topic and in
the dashboard's alarm widget) and, if it deserves a picture, a graph to `_dashboard`.
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.scheduled_functions import ScheduledFunctions
from ipaudit import metrics

HOUR = cdk.Duration.hours(1)


@dataclass(frozen=True)
class AlarmSpec:
    name: str
    metric: cloudwatch.IMetric
    description: str


def run_metric(name: str) -> cloudwatch.Metric:
    """A run-wide count the audit publishes on the `service` dimension, summed per hour."""
    return cloudwatch.Metric(
        namespace=metrics.NAMESPACE,
        metric_name=name,
        dimensions_map={metrics.SERVICE_DIMENSION: metrics.SERVICE},
        statistic="Sum",
        period=HOUR,
    )


def search(
    metric_name: str, dimensions: tuple[str, ...], statistic: str, label: str
) -> cloudwatch.SearchExpression:
    """Every time series of a per-subnet or per-cluster metric: the subnets and clusters are
    only known at run time, so the graph finds them by their dimension names."""
    schema = ",".join((metrics.NAMESPACE, *dimensions, metrics.SERVICE_DIMENSION))
    return cloudwatch.SearchExpression(
        expression=(
            f"SEARCH('{{{schema}}} MetricName=\"{metric_name}\"', '{statistic}', "
            f"{int(HOUR.to_seconds())})"
        ),
        label=label,
        period=HOUR,
    )


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: ScheduledFunctions,
        topic: sns.ITopic,
        audit_timeout: cdk.Duration,
    ) -> None:
        super().__init__(scope, construct_id)
        action = cloudwatch_actions.SnsAction(topic)
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        for spec in _alarm_specs(functions):
            alarm = cloudwatch.Alarm(
                self,
                f"{spec.name}Alarm",
                metric=spec.metric,
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description=f"ipaudit: {spec.description}",
            )
            alarm.add_alarm_action(action)
            alarm.add_ok_action(action)
            self.alarms[spec.name] = alarm
        self.dashboard = self._dashboard(functions, audit_timeout)

    def _dashboard(
        self, functions: ScheduledFunctions, audit_timeout: cdk.Duration
    ) -> cloudwatch.Dashboard:
        dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=cdk.Stack.of(self).stack_name,
            default_interval=cdk.Duration.days(7),
        )
        free = cloudwatch.GraphWidget(
            title="Free addresses per subnet",
            left=[search(metrics.FREE_ADDRESSES, metrics.SUBNET_DIMENSIONS, "Minimum", "")],
            left_y_axis=cloudwatch.YAxisProps(min=0, label="addresses", show_units=False),
            width=12,
        )
        warm = cloudwatch.GraphWidget(
            title="Warm addresses per cluster",
            left=[search(metrics.WARM_ADDRESSES, metrics.CLUSTER_DIMENSIONS, "Maximum", "")],
            left_y_axis=cloudwatch.YAxisProps(min=0, label="addresses", show_units=False),
            width=12,
        )
        coverage = cloudwatch.GraphWidget(
            title="Coverage errors (targets the audit could not read)",
            left=[run_metric(metrics.COVERAGE_ERRORS)],
            left_annotations=[self.alarms["CoverageErrors"].to_annotation()],
            left_y_axis=cloudwatch.YAxisProps(min=0, show_units=False),
            width=8,
        )
        notifications = cloudwatch.GraphWidget(
            title="Notification errors (Slack and SNS deliveries given up)",
            left=[run_metric(metrics.NOTIFICATION_ERRORS)],
            left_annotations=[self.alarms["NotificationErrors"].to_annotation()],
            left_y_axis=cloudwatch.YAxisProps(min=0, show_units=False),
            width=8,
        )
        if functions.fan_out is not None:
            run_duration = functions.fan_out.state_machine.metric_time(
                statistic="Maximum", period=HOUR
            )
            limit = functions.fan_out.timeout
        else:
            assert functions.audit_function is not None
            run_duration = functions.audit_function.metric_duration(
                statistic="Maximum", period=HOUR
            )
            limit = audit_timeout
        duration = cloudwatch.GraphWidget(
            title="Audit run duration",
            left=[run_duration],
            left_annotations=[
                cloudwatch.HorizontalAnnotation(value=limit.to_milliseconds(), label="timeout")
            ],
            left_y_axis=cloudwatch.YAxisProps(min=0),
            width=8,
        )
        alarms = cloudwatch.AlarmStatusWidget(
            title="Alarms", alarms=list(self.alarms.values()), width=24
        )
        dashboard.add_widgets(free, warm)
        dashboard.add_widgets(coverage, notifications, duration)
        dashboard.add_widgets(alarms)
        return dashboard


def _alarm_specs(functions: ScheduledFunctions) -> list[AlarmSpec]:
    return [
        *_audit_alarm_specs(functions),
        AlarmSpec(
            "DigestErrors",
            functions.digest_function.metric_errors(period=HOUR),
            "The weekly digest function failed (see its log group).",
        ),
        AlarmSpec(
            "DeadLetters",
            functions.dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=cdk.Duration.minutes(5), statistic="Maximum"
            ),
            "A scheduled invocation failed and is waiting in the dead-letter queue.",
        ),
        AlarmSpec(
            "CoverageErrors",
            run_metric(metrics.COVERAGE_ERRORS),
            "The audit could not read some accounts, regions or clusters (coverage errors).",
        ),
        AlarmSpec(
            "NotificationErrors",
            run_metric(metrics.NOTIFICATION_ERRORS),
            "Slack or SNS did not accept every alert; they stay pending and the next run "
            "sends them late (see the audit function's log).",
        ),
        AlarmSpec(
            "StorageErrors",
            run_metric(metrics.STORAGE_ERRORS),
            "DynamoDB failed while storing a run or its alert changes (see the audit log).",
        ),
    ]


def _audit_alarm_specs(functions: ScheduledFunctions) -> list[AlarmSpec]:
    """The audit failed: the function, or a run of the fan-out state machine. A fan-out batch
    that fails is not a failed run: its targets are coverage errors (CoverageErrors)."""
    if functions.fan_out is None:
        assert functions.audit_function is not None
        return [
            AlarmSpec(
                "AuditErrors",
                functions.audit_function.metric_errors(period=HOUR),
                "The audit function failed (see its log group).",
            )
        ]
    machine = functions.fan_out.state_machine
    return [
        AlarmSpec(
            "FailedExecutions",
            cloudwatch.MathExpression(
                expression="failed + timedOut + aborted",
                using_metrics={
                    "failed": machine.metric_failed(period=HOUR),
                    "timedOut": machine.metric_timed_out(period=HOUR),
                    "aborted": machine.metric_aborted(period=HOUR),
                },
                period=HOUR,
                label="Failed, timed-out and aborted executions",
            ),
            "An audit run of the fan-out state machine failed, timed out or was aborted (see "
            "the execution's events and the failed step's log group).",
        )
    ]
