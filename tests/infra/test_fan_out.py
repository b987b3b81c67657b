"""The audit fanned out on Step Functions (context fan_out=true), as a platform engineer deploys
it and a reviewer reads it: the state machine's definition (valid ASL, checked by asl-validator),
what each step's role may do, the schedule that starts it and the alarm on failed runs."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template
from cdk_harness import (
    ROOT,
    CloudAssembly,
    Synth,
    actions_of,
    cdk_cli,
    logical_id,
    policy_statements,
)

FAN_OUT = {"fan_out": True}
HANDLERS = {
    "list": "ipaudit.fanout.handler.list_targets_handler",
    "batch": "ipaudit.fanout.handler.audit_batch_handler",
    "aggregate": "ipaudit.fanout.handler.aggregate_handler",
}
LOGS = {"logs:CreateLogStream", "logs:PutLogEvents"}
DEAD_LETTERS = {"sqs:SendMessage"}
PIPELINE = {
    "dynamodb:GetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
    "sns:Publish",
    "kms:GenerateDataKey",
    "kms:Decrypt",
    "secretsmanager:GetSecretValue",
    "cloudwatch:PutMetricData",
}


def state_machine(template: Template) -> tuple[str, dict[str, Any]]:
    ((name, machine),) = template.find_resources("AWS::StepFunctions::StateMachine").items()
    return name, machine


def definition(template: Template) -> dict[str, Any]:
    """The state machine's ASL with CloudFormation's references filled in as a deployment
    would: function ARNs, the partition, the bucket's name."""
    _, machine = state_machine(template)
    text = ""
    for part in machine["Properties"]["DefinitionString"]["Fn::Join"][1]:
        if isinstance(part, str):
            text += part
        elif "Fn::GetAtt" in part:
            text += f"arn:aws:lambda:eu-west-1:111111111111:function:{part['Fn::GetAtt'][0]}"
        elif part["Ref"] == "AWS::Partition":
            text += "aws"
        else:
            text += part["Ref"].lower()
    parsed: dict[str, Any] = json.loads(text)
    return parsed


def asl_validator(asl: dict[str, Any], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "definition.asl.json"
    path.write_text(json.dumps(asl))
    npx = shutil.which("npx")
    assert npx is not None, "npx (Node.js) is needed to run asl-validator"
    return subprocess.run(
        [npx, "--no-install", "asl-validator", "--json-path", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def function_role(template: Template, handler: str) -> str:
    (function,) = template.find_resources(
        "AWS::Lambda::Function", {"Properties": {"Handler": handler}}
    ).values()
    role: str = function["Properties"]["Role"]["Fn::GetAtt"][0]
    return role


def granted(template: Template, role: str) -> set[str]:
    return {action for s in policy_statements(template, role) for action in actions_of(s)}


def member_reads(synth: Synth) -> set[str]:
    """What the read-only role in a member account may do: all a batch may read."""
    member = synth().member
    return granted(member, logical_id(member, "AWS::IAM::Role", "ReadOnlyRole"))


def test_the_single_function_audit_stays_the_default(synth: Synth) -> None:
    auditor = synth().auditor
    auditor.resource_count_is("AWS::StepFunctions::StateMachine", 0)
    auditor.resource_count_is("AWS::S3::Bucket", 0)
    auditor.resource_count_is("AWS::Lambda::Function", 2)


def test_fan_out_replaces_the_audit_function_with_three_steps(synth: Synth) -> None:
    auditor = synth(**FAN_OUT).auditor
    handlers = {
        f["Properties"]["Handler"] for f in auditor.find_resources("AWS::Lambda::Function").values()
    }
    assert handlers == {*HANDLERS.values(), "ipaudit.handler.digest_handler"}
    auditor.resource_count_is("AWS::StepFunctions::StateMachine", 1)


def test_the_definition_is_valid_asl(synth: Synth, tmp_path: Path) -> None:
    asl = definition(synth(**FAN_OUT).auditor)

    checked = asl_validator(asl, tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "is valid" in checked.stdout


def test_asl_validator_refuses_a_broken_definition(synth: Synth, tmp_path: Path) -> None:
    asl = definition(synth(**FAN_OUT).auditor)
    asl["States"]["AuditBatches"]["Next"] = "NoSuchState"

    checked = asl_validator(asl, tmp_path)
    assert checked.returncode != 0
    assert "MISSING_TRANSITION_TARGET" in checked.stderr and "NoSuchState" in checked.stderr


def test_targets_are_listed_then_audited_in_batches_then_aggregated(synth: Synth) -> None:
    auditor = synth(**FAN_OUT, fan_out_batch_size=25, fan_out_max_concurrency=40).auditor
    asl = definition(auditor)

    assert asl["StartAt"] == "ListTargets"
    listing, batches, aggregate = (
        asl["States"][n] for n in ("ListTargets", "AuditBatches", "Aggregate")
    )
    assert listing["Next"] == "AuditBatches" and batches["Next"] == "Aggregate"
    assert aggregate["End"] is True
    # The run is the execution's: both ends name it from the context object.
    execution = {"name.$": "$$.Execution.Name", "started_at.$": "$$.Execution.StartTime"}
    assert listing["Parameters"] == {"execution": execution}
    assert aggregate["Parameters"] == {"execution": execution}
    assert batches["ItemReader"]["Resource"] == "arn:aws:states:::s3:getObject"
    assert batches["ItemReader"]["Parameters"]["Key.$"] == "$.targets_key"
    assert batches["ItemBatcher"] == {
        "MaxItemsPerBatch": 25,
        "BatchInput": {"run_id.$": "$.run_id", "generated_at.$": "$.generated_at"},
    }
    assert batches["MaxConcurrency"] == 40
    # A failed batch is its targets' coverage errors, not a failed run.
    assert batches["ToleratedFailurePercentage"] == 100
    assert batches["ResultPath"] is None  # the aggregate reads the parts from S3
    assert batches["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    (step,) = batches["ItemProcessor"]["States"].values()
    (batch_function,) = auditor.find_resources(
        "AWS::Lambda::Function", {"Properties": {"Handler": HANDLERS["batch"]}}
    )
    assert step["Resource"].endswith(f":function:{batch_function}")


def test_the_batch_role_only_collects_and_writes_its_parts(synth: Synth) -> None:
    auditor = synth(**FAN_OUT).auditor
    role = function_role(auditor, HANDLERS["batch"])
    actions = granted(auditor, role)
    reads = member_reads(synth)
    assert "ec2:DescribeNetworkInterfaces" in reads
    assert actions == reads | LOGS | DEAD_LETTERS | {"sts:AssumeRole", "s3:PutObject"}
    # The name every member account's read-only role trusts stays with the collecting role.
    auditor.has_resource_properties(
        "AWS::IAM::Role", {"RoleName": "IpAuditAuditor", "Description": Match.any_value()}
    )
    assert auditor.to_json()["Resources"][role]["Properties"]["RoleName"] == "IpAuditAuditor"


def test_the_list_role_only_lists_accounts_and_writes_the_targets(synth: Synth) -> None:
    auditor = synth(**FAN_OUT).auditor
    actions = granted(auditor, function_role(auditor, HANDLERS["list"]))
    assert actions == {"organizations:ListAccounts", "s3:PutObject"} | LOGS | DEAD_LETTERS


def test_the_aggregate_role_runs_the_pipeline_and_reads_the_parts_but_reads_no_account(
    synth: Synth,
) -> None:
    auditor = synth(**FAN_OUT).auditor
    role = function_role(auditor, HANDLERS["aggregate"])
    actions = granted(auditor, role)
    # Exactly what the single audit function may do once it has collected, and the parts.
    single = synth().auditor
    collecting = member_reads(synth) | {"organizations:ListAccounts", "sts:AssumeRole"}
    after_collecting = granted(single, function_role(single, "ipaudit.handler.audit_handler"))
    assert after_collecting >= PIPELINE
    assert actions == (after_collecting - collecting) | {
        "s3:GetObject",
        "s3:PutObject",
        "s3:ListBucket",
    }
    (listing,) = [s for s in policy_statements(auditor, role) if "s3:ListBucket" in actions_of(s)]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["runs/*"]}}


def test_with_security_hub_the_aggregate_runs_as_the_role_member_accounts_trust(
    synth: Synth,
) -> None:
    # It imports each member account's findings through that account's read-only role.
    auditor = synth(**FAN_OUT, security_hub="true", regions="eu-west-1").auditor
    aggregate = function_role(auditor, HANDLERS["aggregate"])
    assert aggregate == function_role(auditor, HANDLERS["batch"])
    actions = granted(auditor, aggregate)
    assert {"sts:AssumeRole", "securityhub:BatchImportFindings", "s3:GetObject"} <= actions
    assert function_role(auditor, HANDLERS["list"]) != aggregate


def test_the_state_machine_invokes_only_its_three_functions(synth: Synth) -> None:
    auditor = synth(**FAN_OUT).auditor
    _, machine = state_machine(auditor)
    role = machine["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    invoked = {
        resource["Fn::GetAtt"][0]
        for s in policy_statements(auditor, role)
        if "lambda:InvokeFunction" in actions_of(s)
        for resource in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
        if isinstance(resource, dict) and "Fn::GetAtt" in resource
    }
    functions = {
        name
        for name, f in auditor.find_resources("AWS::Lambda::Function").items()
        if f["Properties"]["Handler"] in HANDLERS.values()
    }
    assert invoked == functions
    assert not granted(auditor, role) & (PIPELINE | member_reads(synth) | {"sts:AssumeRole"})


def test_the_results_bucket_is_private_encrypted_ssl_only_and_expires(synth: Synth) -> None:
    auditor = synth(**FAN_OUT).auditor
    auditor.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                ]
            },
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "LifecycleConfiguration": {
                "Rules": [Match.object_like({"ExpirationInDays": 14, "Status": "Enabled"})]
            },
        },
    )
    auditor.has_resource_properties(
        "AWS::S3::BucketPolicy",
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


def test_the_audit_schedule_starts_the_state_machine(synth: Synth) -> None:
    auditor = synth(**FAN_OUT).auditor
    name, _ = state_machine(auditor)
    auditor.has_resource_properties(
        "AWS::Scheduler::Schedule",
        {
            "ScheduleExpression": "rate(1 hour)",
            "Target": Match.object_like({"Arn": {"Ref": name}}),
        },
    )
    (role,) = [
        r
        for r, props in auditor.find_resources("AWS::IAM::Role").items()
        if "scheduler.amazonaws.com" in json.dumps(props)
    ]
    starting = [
        s for s in policy_statements(auditor, role) if "states:StartExecution" in actions_of(s)
    ]
    assert [s["Resource"] for s in starting] == [{"Ref": name}]


def test_a_failed_timed_out_or_aborted_execution_raises_the_alarm(synth: Synth) -> None:
    auditor = synth(**FAN_OUT).auditor
    name, _ = state_machine(auditor)
    (alarm,) = [
        a["Properties"]
        for a in auditor.find_resources("AWS::CloudWatch::Alarm").values()
        if "ExecutionsFailed" in json.dumps(a)
    ]
    watched = {
        m["MetricStat"]["Metric"]["MetricName"]: m["MetricStat"]["Metric"]["Dimensions"]
        for m in alarm["Metrics"]
        if "MetricStat" in m
    }
    assert set(watched) == {"ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"}
    assert all(d == [{"Name": "StateMachineArn", "Value": {"Ref": name}}] for d in watched.values())
    assert alarm["Threshold"] == 1 and alarm["AlarmActions"]
    assert "AuditErrors" not in json.dumps(auditor.find_resources("AWS::CloudWatch::Alarm"))


@pytest.mark.synth
def test_cdk_synth_with_fan_out_passes_cdk_nag(tmp_path: Path) -> None:
    out = tmp_path / "cdk.out"
    result = cdk_cli("synth", "--quiet", "-c", "fan_out=true", "--output", str(out))
    assert result.returncode == 0, f"cdk synth failed:\n{result.stdout}\n{result.stderr}"
    (nag,) = [
        p for p in CloudAssembly(out).report()["pluginReports"] if p["pluginName"] == "AwsSolutions"
    ]
    assert nag["conclusion"] == "success" and nag["violations"] == []
    fan_out = [v for v in nag["suppressedViolations"] if "/FanOut/" in str(v)]
    assert fan_out and all(len(v["reason"]) > 40 for v in fan_out)
