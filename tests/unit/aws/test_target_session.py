"""Per-target sessions: the caller's own account as is, other accounts through AssumeRole."""

from __future__ import annotations

import boto3
import pytest
from aws_stubs import session_with, stubbed_client
from botocore.stub import Stubber

from ipaudit.aws.session import (
    AccountAccess,
    TargetError,
    caller_account,
    client_config,
    target_session,
)
from ipaudit.errors import InputError

CALLER = "111111111111"
MEMBER = "222222222222"
TEMPORARY = {
    "AccessKeyId": "ASIATEMPORARYKEY01",
    "SecretAccessKey": "temporary-secret",
    "SessionToken": "temporary-token",
    "Expiration": "2030-01-01T00:00:00Z",
}


def test_client_config_retries_adaptively_within_a_per_call_budget_and_names_itself() -> None:
    config = client_config()
    assert config.retries == {"mode": "adaptive", "total_max_attempts": 6}
    # One hung endpoint costs at most 6 x (3 + 10) s per call, never minutes per attempt.
    assert config.connect_timeout == 3 and config.read_timeout == 10
    assert "ipaudit" in (config.user_agent_extra or "")


def test_another_account_is_reached_through_its_role_with_the_external_id() -> None:
    sts = stubbed_client("sts")
    with Stubber(sts) as stub:
        stub.add_response(
            "assume_role",
            {"Credentials": TEMPORARY},
            {
                "RoleArn": f"arn:aws:iam::{MEMBER}:role/IpAuditReadOnly",
                "RoleSessionName": "ipaudit",
                "ExternalId": "shared-secret-id",
            },
        )
        session = target_session(
            session_with(sts=sts),
            MEMBER,
            caller_account=CALLER,
            role_name="IpAuditReadOnly",
            external_id="shared-secret-id",
            region="eu-central-1",
        )
    assert session.region_name == "eu-central-1"
    credentials = session.get_credentials()
    assert credentials is not None
    assert credentials.access_key == "ASIATEMPORARYKEY01"
    assert credentials.token == "temporary-token"


def test_the_role_arn_follows_the_region_partition_and_omits_an_unset_external_id() -> None:
    sts = stubbed_client("sts")
    with Stubber(sts) as stub:
        stub.add_response(
            "assume_role",
            {"Credentials": TEMPORARY},
            {"RoleArn": f"arn:aws-cn:iam::{MEMBER}:role/Audit", "RoleSessionName": "ipaudit"},
        )
        target_session(
            session_with(sts=sts),
            MEMBER,
            caller_account=CALLER,
            role_name="Audit",
            external_id=None,
            region="cn-north-1",
        )
        stub.assert_no_pending_responses()


def test_a_role_that_cannot_be_assumed_is_a_one_line_target_error() -> None:
    sts = stubbed_client("sts")
    with Stubber(sts) as stub:
        stub.add_client_error(
            "assume_role",
            service_error_code="AccessDenied",
            service_message="User: arn:aws:sts::111111111111:assumed-role/x is not authorized",
            http_status_code=403,
        )
        with pytest.raises(TargetError) as raised:
            target_session(
                session_with(sts=sts),
                MEMBER,
                caller_account=CALLER,
                role_name="IpAuditReadOnly",
                external_id=None,
                region="eu-west-1",
            )
    # Not bad input: the run records the account in coverage and audits the others.
    assert not isinstance(raised.value, InputError)
    assert str(raised.value) == (
        "cannot assume arn:aws:iam::222222222222:role/IpAuditReadOnly: AccessDenied"
    )


def test_the_callers_own_account_keeps_its_credentials_in_any_region() -> None:
    base = boto3.Session(
        aws_access_key_id="AKIACALLER",
        aws_secret_access_key="caller-secret",
        region_name="eu-west-1",
    )
    same = target_session(
        base,
        CALLER,
        caller_account=CALLER,
        role_name="IpAuditReadOnly",
        external_id=None,
        region="eu-west-1",
    )
    other = target_session(
        base,
        CALLER,
        caller_account=CALLER,
        role_name="IpAuditReadOnly",
        external_id=None,
        region="us-east-2",
    )
    assert same is base
    assert other.region_name == "us-east-2"
    assert base.region_name == "eu-west-1"
    credentials = other.get_credentials()
    assert credentials is not None
    assert credentials.access_key == "AKIACALLER"


def test_caller_account_asks_sts_who_we_are() -> None:
    sts = stubbed_client("sts")
    with Stubber(sts) as stub:
        stub.add_response(
            "get_caller_identity",
            {"Account": CALLER, "Arn": f"arn:aws:iam::{CALLER}:user/me", "UserId": "AIDA"},
        )
        assert caller_account(session_with(sts=sts)) == CALLER


def test_unusable_credentials_stop_the_run_with_one_line() -> None:
    sts = stubbed_client("sts")
    with Stubber(sts) as stub:
        stub.add_client_error(
            "get_caller_identity", service_error_code="ExpiredToken", http_status_code=403
        )
        with pytest.raises(InputError, match=r"^AWS credentials: ExpiredToken$"):
            caller_account(session_with(sts=sts))


def test_a_member_role_is_assumed_once_and_its_credentials_serve_every_region() -> None:
    sts = stubbed_client("sts")
    with Stubber(sts) as stub:
        # One answer only: a second AssumeRole would find the stubber empty and fail.
        stub.add_response(
            "assume_role",
            {"Credentials": TEMPORARY},
            {
                "RoleArn": f"arn:aws:iam::{MEMBER}:role/IpAuditReadOnly",
                "RoleSessionName": "ipaudit",
            },
        )
        access = AccountAccess(
            session_with(sts=sts),
            caller_account=CALLER,
            role_name="IpAuditReadOnly",
            external_id=None,
        )
        regions = ("eu-west-1", "us-east-1", "ap-southeast-2")
        keys = [access.credentials(MEMBER, region) for region in regions]
        stub.assert_no_pending_responses()

    assert (
        keys
        == [
            {
                "aws_access_key_id": "ASIATEMPORARYKEY01",
                "aws_secret_access_key": "temporary-secret",
                "aws_session_token": "temporary-token",
            }
        ]
        * 3
    )
    assert access.credentials(CALLER, "eu-west-1") == {}  # the caller's own, refreshing keys


def test_an_account_whose_role_is_refused_fails_every_region_without_asking_again() -> None:
    sts = stubbed_client("sts")
    with Stubber(sts) as stub:
        stub.add_client_error(
            "assume_role", service_error_code="AccessDenied", http_status_code=403
        )
        access = AccountAccess(
            session_with(sts=sts),
            caller_account=CALLER,
            role_name="IpAuditReadOnly",
            external_id=None,
        )
        errors = []
        for region in ("eu-west-1", "us-east-1"):
            with pytest.raises(TargetError) as raised:
                access.client(MEMBER, region, "ec2")
            errors.append(str(raised.value))

    assert (
        errors == ["cannot assume arn:aws:iam::222222222222:role/IpAuditReadOnly: AccessDenied"] * 2
    )


def test_clients_are_made_once_per_account_region_and_service() -> None:
    base = boto3.Session(
        aws_access_key_id="AKIACALLER",
        aws_secret_access_key="caller-secret",
        region_name="eu-west-1",
    )
    access = AccountAccess(
        base, caller_account=CALLER, role_name="IpAuditReadOnly", external_id=None
    )

    ec2 = access.client(CALLER, "us-east-2", "ec2")

    assert access.client(CALLER, "us-east-2", "ec2") is ec2
    assert ec2.meta.region_name == "us-east-2"
    assert access.client(CALLER, "eu-west-1", "ec2") is not ec2
    assert base.region_name == "eu-west-1"
