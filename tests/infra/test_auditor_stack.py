"""The auditor stack as a platform engineer deploys it: functions, schedules, state, alarms."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Match, Template
from cdk_harness import Synth, logical_id

AUDIT = {"Handler": "ipaudit.handler.audit_handler"}
DIGEST = {"Handler": "ipaudit.handler.digest_handler"}
SECRET_VARIABLE = "IPAUDIT_SLACK_SECRET_ARN"


def audit_function(template: Template) -> dict[str, Any]:
    """The audit function's properties."""
    (function,) = template.find_resources("AWS::Lambda::Function", {"Properties": AUDIT}).values()
    properties: dict[str, Any] = function["Properties"]
    return properties


def test_both_functions_run_python_3_12_on_arm64_one_at_a_time(synth: Synth) -> None:
    auditor = synth().auditor
    for handler in (AUDIT, DIGEST):
        auditor.has_resource_properties(
            "AWS::Lambda::Function",
            {
                **handler,
                "Runtime": "python3.12",
                "Architectures": ["arm64"],
                "ReservedConcurrentExecutions": 1,
                "DeadLetterConfig": {"TargetArn": Match.any_value()},
            },
        )
    auditor.resource_count_is("AWS::Lambda::Function", 2)


def test_the_audit_is_sized_for_a_large_organization_and_can_be_resized(synth: Synth) -> None:
    synth().auditor.has_resource_properties(
        "AWS::Lambda::Function", {**AUDIT, "MemorySize": 2048, "Timeout": 900}
    )
    synth(audit_memory_mb="3008", audit_timeout_minutes="10").auditor.has_resource_properties(
        "AWS::Lambda::Function", {**AUDIT, "MemorySize": 3008, "Timeout": 600}
    )


def test_the_functions_receive_every_setting_from_context(synth: Synth) -> None:
    auditor = synth(
        accounts="111111111111,222222222222",
        regions="eu-west-1,us-east-1",
        external_id="ipaudit-ext-1",
        kube_endpoints="prod=https://10.0.0.10",
        email_from="ipaudit@example.com",
        email_to="platform@example.com,sre@example.com",
        warn_free_pct="30",
        crit_free_pct="12",
        renotify_hours="6",
    ).auditor
    table = logical_id(auditor, "AWS::DynamoDB::Table", "Table")
    topic = logical_id(auditor, "AWS::SNS::Topic", "Topic")
    secret = logical_id(auditor, "AWS::SecretsManager::Secret", "SlackWebhook")
    expected = {
        "IPAUDIT_ACCOUNTS": "111111111111,222222222222",
        "IPAUDIT_REGIONS": "eu-west-1,us-east-1",
        "IPAUDIT_ROLE_NAME": "IpAuditReadOnly",
        "IPAUDIT_EXTERNAL_ID": "ipaudit-ext-1",
        "IPAUDIT_KUBE_ENDPOINTS": "prod=https://10.0.0.10",
        "IPAUDIT_TABLE": {"Ref": table},
        "IPAUDIT_SNS_TOPIC_ARN": {"Ref": topic},
        "IPAUDIT_SLACK_SECRET_ARN": {"Ref": secret},
        "IPAUDIT_EMAIL_FROM": "ipaudit@example.com",
        "IPAUDIT_EMAIL_TO": "platform@example.com,sre@example.com",
        "IPAUDIT_WARN_FREE_PCT": "30",
        "IPAUDIT_CRIT_FREE_PCT": "12",
        "IPAUDIT_RENOTIFY_HOURS": "6",
        "POWERTOOLS_SERVICE_NAME": "ipaudit",
        "POWERTOOLS_METRICS_NAMESPACE": "IpAudit",
    }
    for handler in (AUDIT, DIGEST):
        auditor.has_resource_properties(
            "AWS::Lambda::Function", {**handler, "Environment": {"Variables": expected}}
        )


def test_unset_settings_are_left_to_the_functions_defaults(synth: Synth) -> None:
    variables = audit_function(synth().auditor)["Environment"]["Variables"]
    # Own account, own region, no e-mail: the settings' defaults, not empty strings.
    for name in ("IPAUDIT_ACCOUNTS", "IPAUDIT_REGIONS", "IPAUDIT_EMAIL_FROM", "IPAUDIT_EMAIL_TO"):
        assert name not in variables


def test_the_audit_runs_hourly_and_the_digest_on_monday_8am_in_the_chosen_zone(
    synth: Synth,
) -> None:
    auditor = synth(digest_time_zone="Europe/Berlin").auditor
    audit_fn = logical_id(auditor, "AWS::Lambda::Function", "AuditFunction")
    digest_fn = logical_id(auditor, "AWS::Lambda::Function", "DigestFunction")
    dlq = logical_id(auditor, "AWS::SQS::Queue", "DeadLetterQueue")
    auditor.has_resource_properties(
        "AWS::Scheduler::Schedule",
        {
            "ScheduleExpression": "rate(1 hour)",
            "Target": {
                "Arn": {"Fn::GetAtt": [audit_fn, "Arn"]},
                "DeadLetterConfig": {"Arn": {"Fn::GetAtt": [dlq, "Arn"]}},
                # The run id derives from the scheduled time: retries are the same run.
                "Input": '{"scheduled_time":"<aws.scheduler.scheduled-time>"}',
            },
        },
    )
    auditor.has_resource_properties(
        "AWS::Scheduler::Schedule",
        {
            "ScheduleExpression": "cron(0 8 ? * MON *)",
            "ScheduleExpressionTimezone": "Europe/Berlin",
            "Target": {
                "Arn": {"Fn::GetAtt": [digest_fn, "Arn"]},
                "DeadLetterConfig": {"Arn": {"Fn::GetAtt": [dlq, "Arn"]}},
            },
        },
    )


def test_schedules_come_from_context(synth: Synth) -> None:
    auditor = synth(audit_schedule="rate(30 minutes)", digest_schedule="cron(0 7 ? * FRI *)")
    auditor.auditor.has_resource_properties(
        "AWS::Scheduler::Schedule", {"ScheduleExpression": "rate(30 minutes)"}
    )
    auditor.auditor.has_resource_properties(
        "AWS::Scheduler::Schedule", {"ScheduleExpression": "cron(0 7 ? * FRI *)"}
    )


def test_failed_invocations_land_in_an_encrypted_dead_letter_queue(synth: Synth) -> None:
    auditor = synth().auditor
    dlq = logical_id(auditor, "AWS::SQS::Queue", "DeadLetterQueue")
    auditor.has_resource_properties(
        "AWS::SQS::Queue", {"SqsManagedSseEnabled": True, "MessageRetentionPeriod": 1209600}
    )
    for handler in (AUDIT, DIGEST):
        auditor.has_resource_properties(
            "AWS::Lambda::Function",
            {**handler, "DeadLetterConfig": {"TargetArn": {"Fn::GetAtt": [dlq, "Arn"]}}},
        )


def test_the_table_is_on_demand_recoverable_encrypted_expiring_and_retained(
    synth: Synth,
) -> None:
    auditor = synth().auditor
    auditor.has_resource(
        "AWS::DynamoDB::Table",
        {
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "BillingMode": "PAY_PER_REQUEST",
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                "SSESpecification": {"SSEEnabled": True},
                "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
                "GlobalSecondaryIndexes": [
                    {
                        "IndexName": "gsi1",
                        "KeySchema": [
                            {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                            {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
                        ],
                        "Projection": {"ProjectionType": "ALL"},
                    }
                ],
            },
        },
    )


def test_the_warnings_topic_is_encrypted_and_refuses_plain_http(synth: Synth) -> None:
    auditor = synth().auditor
    key = logical_id(auditor, "AWS::KMS::Key", "TopicKey")
    auditor.has_resource_properties(
        "AWS::SNS::Topic", {"KmsMasterKeyId": {"Fn::GetAtt": [key, "Arn"]}}
    )
    auditor.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    auditor.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            }
        },
    )


def test_alarms_for_errors_dead_letters_coverage_and_delivery_publish_to_the_topic(
    synth: Synth,
) -> None:
    auditor = synth().auditor
    topic = {"Ref": logical_id(auditor, "AWS::SNS::Topic", "Topic")}
    alarms = auditor.find_resources("AWS::CloudWatch::Alarm")
    metrics = {
        (a["Properties"].get("Namespace"), a["Properties"].get("MetricName"))
        for a in alarms.values()
    }
    assert metrics == {
        ("AWS/Lambda", "Errors"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
        ("IpAudit", "CoverageErrors"),
        ("IpAudit", "NotificationErrors"),
        ("IpAudit", "StorageErrors"),
    }
    assert len(alarms) == 6  # each function's errors, DLQ depth, coverage, delivery, storage
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [topic]
        assert alarm["Properties"]["Threshold"] == 1
    # The audit handler's Powertools metrics carry the `service` dimension.
    for name in ("CoverageErrors", "NotificationErrors", "StorageErrors"):
        auditor.has_resource_properties(
            "AWS::CloudWatch::Alarm",
            {"MetricName": name, "Dimensions": [{"Name": "service", "Value": "ipaudit"}]},
        )


def test_logs_are_kept_for_the_configured_retention(synth: Synth) -> None:
    auditor = synth(log_retention_days="30").auditor
    auditor.resource_properties_count_is("AWS::Logs::LogGroup", {"RetentionInDays": 30}, 2)


def test_a_slack_secret_is_created_for_the_user_to_fill(synth: Synth) -> None:
    auditor = synth().auditor
    auditor.resource_count_is("AWS::SecretsManager::Secret", 1)


def test_an_existing_slack_secret_is_referenced_by_arn_and_not_created(synth: Synth) -> None:
    arn = "arn:aws:secretsmanager:eu-west-1:111111111111:secret:ipaudit/slack-AbCdEf"
    auditor = synth(slack_secret_arn=arn).auditor
    auditor.resource_count_is("AWS::SecretsManager::Secret", 0)
    auditor.has_resource_properties(
        "AWS::Lambda::Function",
        {**AUDIT, "Environment": {"Variables": Match.object_like({SECRET_VARIABLE: arn})}},
    )


def test_the_function_can_be_placed_in_a_vpc_to_reach_private_endpoints(synth: Synth) -> None:
    auditor = synth(
        vpc_subnet_ids="subnet-0123456789abcdef0,subnet-0fedcba9876543210",
        vpc_security_group_ids="sg-0123456789abcdef0",
    ).auditor
    auditor.has_resource_properties(
        "AWS::Lambda::Function",
        {
            **AUDIT,
            "VpcConfig": {
                "SubnetIds": ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"],
                "SecurityGroupIds": ["sg-0123456789abcdef0"],
            },
        },
    )
    assert "VpcConfig" not in audit_function(synth().auditor)
