"""Targets across a moto organization: accounts resolved, roles assumed, each account's own view."""

from __future__ import annotations

from datetime import datetime

import boto3
import pytest

from ipaudit.aws.session import AccountAccess, caller_account, client_config, target_session
from ipaudit.aws.targets import resolve_accounts, resolve_regions
from ipaudit.settings import Settings

ROLE = "IpAuditReadOnly"


@pytest.fixture
def member(aws: boto3.Session) -> str:
    """A second account in a fresh organization whose management account is the caller."""
    organizations = aws.client("organizations", config=client_config())
    organizations.create_organization(FeatureSet="ALL")
    status = organizations.create_account(Email="member@example.com", AccountName="member")
    return str(status["CreateAccountStatus"]["AccountId"])


def test_organization_resolves_to_every_active_account_including_the_caller(
    aws: boto3.Session, member: str
) -> None:
    caller = caller_account(aws)
    settings = Settings.from_env({"IPAUDIT_ACCOUNTS": "organization"})
    assert resolve_accounts(aws, settings, caller) == sorted([caller, member])


def test_an_explicit_list_and_the_session_region_resolve_as_given(aws: boto3.Session) -> None:
    caller = caller_account(aws)
    settings = Settings.from_env({"IPAUDIT_ACCOUNTS": f"222222222222,{caller}"})
    assert resolve_accounts(aws, settings, caller) == ["222222222222", caller]
    assert resolve_regions(aws, settings) == ["eu-west-1"]


def test_an_assumed_session_sees_the_member_accounts_own_vpcs(
    aws: boto3.Session, member: str
) -> None:
    caller = caller_account(aws)
    session = target_session(
        aws,
        member,
        caller_account=caller,
        role_name=ROLE,
        external_id="shared-id",
        region="eu-west-1",
    )
    assert caller_account(session) == member
    ec2 = session.client("ec2", config=client_config())
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]

    def vpc_ids(s: boto3.Session) -> set[str]:
        client = s.client("ec2", config=client_config())
        return {v["VpcId"] for v in client.describe_vpcs()["Vpcs"]}

    assert vpc in vpc_ids(session)
    assert vpc not in vpc_ids(aws)


def test_the_caller_is_audited_with_its_own_credentials_in_another_region(
    aws: boto3.Session,
) -> None:
    caller = caller_account(aws)
    session = target_session(
        aws, caller, caller_account=caller, role_name=ROLE, external_id=None, region="us-east-2"
    )
    assert caller_account(session) == caller
    ec2 = session.client("ec2", config=client_config())
    assert ec2.meta.region_name == "us-east-2"
    azs = ec2.describe_availability_zones()["AvailabilityZones"]
    assert {zone["RegionName"] for zone in azs} == {"us-east-2"}


def test_shared_access_reaches_each_member_region_with_one_assumed_role(
    aws: boto3.Session, member: str
) -> None:
    caller = caller_account(aws)
    access = AccountAccess(aws, caller_account=caller, role_name=ROLE, external_id=None)
    west = access.client(member, "eu-west-1", "ec2")
    vpc = west.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]

    assert access.client(member, "eu-west-1", "sts").get_caller_identity()["Account"] == member
    assert access.client(member, "us-east-2", "sts").get_caller_identity()["Account"] == member
    assert vpc in {v["VpcId"] for v in west.describe_vpcs()["Vpcs"]}
    assert vpc not in {
        v["VpcId"] for v in access.client(caller, "eu-west-1", "ec2").describe_vpcs()["Vpcs"]
    }


def test_ec2_clients_leave_timestamps_as_sent_and_sts_still_parses_them(
    aws: boto3.Session, member: str
) -> None:
    """EC2's timestamps are never read (issue 26: parsing them was a fifth of a large audit's
    CPU), so its clients keep AWS's strings; AssumeRole's Expiration stays a datetime, which
    the shared credentials' reuse reads."""
    caller = caller_account(aws)
    access = AccountAccess(aws, caller_account=caller, role_name=ROLE, external_id=None)
    for account in (caller, member):
        ec2 = access.client(account, "eu-west-1", "ec2")
        subnet = ec2.create_subnet(
            VpcId=ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"],
            CidrBlock="10.42.0.0/24",
        )["Subnet"]["SubnetId"]
        [instance] = ec2.run_instances(
            ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=subnet
        )["Instances"]
        [reservation] = ec2.describe_instances(InstanceIds=[instance["InstanceId"]])["Reservations"]
        launched = reservation["Instances"][0]["LaunchTime"]
        assert isinstance(launched, str)
        assert datetime.fromisoformat(launched.replace("Z", "+00:00")).tzinfo is not None
    # The base session's own clients are untouched.
    assert isinstance(
        aws.client("sts", config=client_config()).assume_role(
            RoleArn=f"arn:aws:iam::{member}:role/{ROLE}", RoleSessionName="timestamps"
        )["Credentials"]["Expiration"],
        datetime,
    )
    base_ec2 = aws.client("ec2", config=client_config())
    [reservation, *_] = base_ec2.describe_instances()["Reservations"]
    assert isinstance(reservation["Instances"][0]["LaunchTime"], datetime)
