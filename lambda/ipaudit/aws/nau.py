"""The AWS reads behind a VPC's Network Address Usage: its quotas (Service Quotas) and its
same-region peerings (EC2). The counting itself is pure: `ipaudit.analysis.nau`.

Two read-only actions, both in the member role (infra/permissions.py):
`servicequotas:GetServiceQuota` and `ec2:DescribeVpcPeeringConnections`. A quota that cannot be
read is AWS's default, and the report says so; a peering listing that fails leaves the peered
total unknown, never the run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ipaudit.aws.ec2 import vpc_enis
from ipaudit.aws.error_line import one_line
from ipaudit.snapshot import Eni, QuotaReading, VpcNetwork, VpcPeering

# Service Quotas' codes (service "vpc"), as GetServiceQuota and the console list them.
SERVICE_CODE = "vpc"
NAU_QUOTA_CODE = "L-BB24F6E5"  # "Network Address Usage"
PEERED_NAU_QUOTA_CODE = "L-CD17FD4B"  # "Peered Network Address Usage"
# AWS's defaults (VPC user guide, "Network Address Usage for your VPC"): 64,000 per VPC (up to
# 256,000 on request), 128,000 for a VPC with its same-region peers (up to 512,000).
DEFAULT_NAU_QUOTA = 64_000
DEFAULT_PEERED_NAU_QUOTA = 128_000

# Peerings in these states join the two VPCs' address usage (a pending one does not yet).
_JOINED_STATES = ("active",)


def read_quota(client: Any, quota_code: str, default: int) -> QuotaReading:
    """The quota's applied value for this account and region; AWS's default, said as such,
    when Service Quotas has none or cannot be read (no permission, not answering)."""
    try:
        answer = client.get_service_quota(ServiceCode=SERVICE_CODE, QuotaCode=quota_code)
        value = answer["Quota"]["Value"]
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code == "NoSuchResourceException":
            note = f"Service Quotas has no value for {quota_code}: AWS's default {default:,}"
        else:
            note = (
                f"Service Quotas {quota_code} could not be read ({one_line(error)}): "
                f"AWS's default {default:,} assumed"
            )
        return QuotaReading(default, "default", note)
    except (BotoCoreError, KeyError, TypeError) as error:
        note = (
            f"Service Quotas {quota_code} could not be read ({type(error).__name__}): "
            f"AWS's default {default:,} assumed"
        )
        return QuotaReading(default, "default", note)
    return QuotaReading(int(value), "applied")


def read_quotas(client: Any) -> tuple[QuotaReading, QuotaReading]:
    """The per-VPC and the peered Network Address Usage quotas in force."""
    return (
        read_quota(client, NAU_QUOTA_CODE, DEFAULT_NAU_QUOTA),
        read_quota(client, PEERED_NAU_QUOTA_CODE, DEFAULT_PEERED_NAU_QUOTA),
    )


def vpc_peerings(
    ec2_client: Any, vpc_ids: Iterable[str], region: str
) -> dict[str, tuple[VpcPeering, ...]]:
    """Each VPC's active peerings with VPCs in the same region (the side it is on either way).
    Raises what EC2 raised: the caller decides what a failure costs."""
    wanted = sorted(set(vpc_ids))
    found: dict[str, list[VpcPeering]] = {vpc_id: [] for vpc_id in wanted}
    if not wanted:
        return {}
    paginator = ec2_client.get_paginator("describe_vpc_peering_connections")
    # All of the region's peerings in one listing, sorted out here: a region holds few, and
    # one call serves every VPC whichever side of a peering it is on.
    for page in paginator.paginate():
        for item in page.get("VpcPeeringConnections", []):
            if item.get("Status", {}).get("Code", "") not in _JOINED_STATES:
                continue
            requester = item.get("RequesterVpcInfo", {})
            accepter = item.get("AccepterVpcInfo", {})
            for mine, theirs in ((requester, accepter), (accepter, requester)):
                vpc_id = mine.get("VpcId")
                if vpc_id not in found:
                    continue
                peer_region = theirs.get("Region") or region
                if peer_region != region:
                    continue  # cross-region peers do not share the peered quota
                found[vpc_id].append(
                    VpcPeering(
                        peering_id=item.get("VpcPeeringConnectionId", ""),
                        peer_vpc_id=theirs.get("VpcId", ""),
                        peer_account_id=theirs.get("OwnerId", ""),
                        peer_region=peer_region,
                    )
                )
    return {vpc_id: tuple(peers) for vpc_id, peers in found.items()}


def vpc_networks(
    quotas_client: Any,
    ec2_client: Any,
    account_id: str,
    region: str,
    enis_by_vpc: Mapping[str, tuple[Eni, ...]],
) -> tuple[VpcNetwork, ...]:
    """Each VPC's NAU inputs: its ENIs (already read), the quotas, its peerings, and the ENIs of
    the peers this account owns (one more listing per peer not already read). The quotas are
    the account's in this region, the same for each of its VPCs: read once."""
    if not enis_by_vpc:
        return ()
    quota, peered_quota = read_quotas(quotas_client)
    peerings: dict[str, tuple[VpcPeering, ...]] = {}
    known: dict[str, tuple[Eni, ...]] = dict(enis_by_vpc)
    error: str | None = None
    try:
        peerings = vpc_peerings(ec2_client, enis_by_vpc, region)
        for peer in sorted(
            {
                p.peer_vpc_id
                for ps in peerings.values()
                for p in ps
                if p.peer_account_id == account_id
            }
        ):
            if peer not in known:
                known[peer] = vpc_enis(ec2_client, peer)
    except (ClientError, BotoCoreError) as failure:
        error = one_line(failure)
        peerings = {}
    return tuple(
        VpcNetwork(
            vpc_id=vpc_id,
            enis=enis,
            quota=quota,
            peered_quota=peered_quota,
            peerings=peerings.get(vpc_id, ()),
            peerings_error=error,
            peer_enis={
                p.peer_vpc_id: known[p.peer_vpc_id]
                for p in peerings.get(vpc_id, ())
                if p.peer_vpc_id in known
            },
        )
        for vpc_id, enis in sorted(enis_by_vpc.items())
    )
