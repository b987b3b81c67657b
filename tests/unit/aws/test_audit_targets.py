"""Which accounts and regions an audit covers."""

from __future__ import annotations

from typing import Any

import pytest
from aws_stubs import session_with, stubbed_client
from botocore.stub import Stubber

from ipaudit.aws.targets import resolve_accounts, resolve_regions
from ipaudit.settings import Settings, SettingsError

CALLER = "111111111111"


def account(account_id: str, status: str) -> dict[str, Any]:
    return {
        "Id": account_id,
        "Arn": f"arn:aws:organizations::{CALLER}:account/o-abc/{account_id}",
        "Name": account_id,
        "Email": f"{account_id}@example.com",
        "Status": status,
    }


def test_organization_pages_are_followed_and_only_active_accounts_kept() -> None:
    organizations = stubbed_client("organizations")
    with Stubber(organizations) as stub:
        stub.add_response(
            "list_accounts",
            {
                "Accounts": [account("333333333333", "ACTIVE"), account(CALLER, "ACTIVE")],
                "NextToken": "a2",
            },
            {},
        )
        stub.add_response(
            "list_accounts",
            {
                "Accounts": [
                    account("444444444444", "SUSPENDED"),
                    account("555555555555", "PENDING_CLOSURE"),
                ],
                "NextToken": "a3",
            },
            {"NextToken": "a2"},
        )
        stub.add_response(
            "list_accounts",
            {"Accounts": [account("222222222222", "ACTIVE")]},
            {"NextToken": "a3"},
        )
        accounts = resolve_accounts(
            session_with(organizations=organizations),
            Settings(organization=True),
            CALLER,
        )
        stub.assert_no_pending_responses()
    assert accounts == [CALLER, "222222222222", "333333333333"]


def test_organization_state_field_wins_over_the_deprecated_status() -> None:
    closed = {**account("666666666666", "ACTIVE"), "State": "CLOSED"}
    organizations = stubbed_client("organizations")
    with Stubber(organizations) as stub:
        stub.add_response("list_accounts", {"Accounts": [closed, account(CALLER, "ACTIVE")]})
        accounts = resolve_accounts(
            session_with(organizations=organizations),
            Settings(organization=True),
            CALLER,
        )
    assert accounts == [CALLER]


def test_an_organization_that_cannot_be_listed_names_the_setting() -> None:
    organizations = stubbed_client("organizations")
    with Stubber(organizations) as stub:
        stub.add_client_error(
            "list_accounts", service_error_code="AWSOrganizationsNotInUseException"
        )
        with pytest.raises(SettingsError) as raised:
            resolve_accounts(
                session_with(organizations=organizations),
                Settings(organization=True),
                CALLER,
            )
    assert str(raised.value) == (
        "IPAUDIT_ACCOUNTS=organization: cannot list the organization's accounts: "
        "AWSOrganizationsNotInUseException"
    )


def test_an_explicit_account_list_is_audited_as_given() -> None:
    settings = Settings(accounts=("222222222222", CALLER))
    assert resolve_accounts(session_with(), settings, CALLER) == ["222222222222", CALLER]


def test_without_accounts_only_the_caller_is_audited() -> None:
    assert resolve_accounts(session_with(), Settings(), CALLER) == [CALLER]


def test_regions_come_from_the_setting_then_the_session() -> None:
    settings = Settings(regions=("eu-west-1", "us-east-1"))
    assert resolve_regions(session_with(), settings) == ["eu-west-1", "us-east-1"]
    session = session_with(region_name="ap-southeast-2")
    assert resolve_regions(session, Settings()) == ["ap-southeast-2"]


def test_no_region_anywhere_names_both_settings() -> None:
    with pytest.raises(SettingsError, match=r"IPAUDIT_REGIONS.*AWS_DEFAULT_REGION"):
        resolve_regions(session_with(region_name=None), Settings())
