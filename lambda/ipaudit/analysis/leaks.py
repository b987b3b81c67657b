"""Leaked ENIs: detached interfaces aws-node or the VPC resource controller created and never
cleaned up, judged the way ipamd judges them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from ipaudit.analysis.eni_kinds import (
    CNI_CREATED_AT_TAG,
    address_count,
    is_branch_eni,
    is_cni_eni,
    tagged_cluster,
)
from ipaudit.report import LeakedEni
from ipaudit.snapshot import Eni

# ipamd's leaked-ENI cleanup leaves an ENI alone for 5 minutes after its createdAt tag: it is
# still being attached (pkg/awsutils, eniDeleteCooldownTime).
ATTACHING_GRACE = timedelta(minutes=5)


def is_leaked(eni: Eni, now: datetime | None) -> bool:
    """An `available` CNI ENI past its attaching grace, or an `available` branch ENI."""
    if eni.status != "available":
        return False
    if is_branch_eni(eni):
        return True
    if not is_cni_eni(eni):
        return False
    created = _created_at(eni)
    return now is None or created is None or now - created >= ATTACHING_GRACE


def _created_at(eni: Eni) -> datetime | None:
    text = eni.tags.get(CNI_CREATED_AT_TAG, "")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def leaked_enis(
    cluster_name: str, enis: Iterable[Eni], now: datetime | None = None
) -> list[LeakedEni]:
    """Leaked ENIs, unless their tags say they belong to another cluster."""
    leaked = []
    for eni in enis:
        if not is_leaked(eni, now):
            continue
        if (tagged_cluster(eni) or cluster_name) != cluster_name:
            continue
        leaked.append(LeakedEni(eni_id=eni.eni_id, subnet_id=eni.subnet_id, ips=address_count(eni)))
    return sorted(leaked, key=lambda leak: leak.eni_id)
