"""Which accounts and regions an audit covers (IPAUDIT_ACCOUNTS x IPAUDIT_REGIONS)."""

from __future__ import annotations

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from ipaudit.aws.session import make_client
from ipaudit.settings import Settings, SettingsError


def resolve_accounts(session: boto3.Session, settings: Settings, caller_account: str) -> list[str]:
    """The explicit list, every ACTIVE account of the organization, or the caller's own."""
    if settings.organization:
        return _organization_accounts(session, caller_account)
    if settings.accounts:
        return list(settings.accounts)
    return [caller_account]


def resolve_regions(session: boto3.Session, settings: Settings) -> list[str]:
    """IPAUDIT_REGIONS, or the session's own region."""
    if settings.regions:
        return list(settings.regions)
    if session.region_name:
        return [session.region_name]
    raise SettingsError(
        "IPAUDIT_REGIONS: not set and no AWS_DEFAULT_REGION (or profile region) either"
    )


def _organization_accounts(session: boto3.Session, caller_account: str) -> list[str]:
    client = make_client(session, "organizations")
    active: set[str] = set()
    try:
        for page in client.get_paginator("list_accounts").paginate():
            for account in page.get("Accounts", []):
                # AWS is replacing Status with State; both say ACTIVE for a live account.
                if account.get("State", account.get("Status")) == "ACTIVE":
                    active.add(account["Id"])
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "") or str(error)
        raise SettingsError(
            f"IPAUDIT_ACCOUNTS=organization: cannot list the organization's accounts: {code}"
        ) from None
    except BotoCoreError as error:
        raise SettingsError(
            f"IPAUDIT_ACCOUNTS=organization: cannot list the organization's accounts: {error}"
        ) from None
    # The caller is audited with its own credentials even when it is not listed (a delegated
    # administrator still is; this only guards against an empty or partial answer).
    active.add(caller_account)
    return sorted(active)
