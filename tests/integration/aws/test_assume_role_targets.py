"""Targets across a moto organization: accounts resolved, roles assumed, each account's own view."""

from __future__ import annotations

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
