"""Collecting one account x region: EKS, the clusters' VPCs, instance types, Kubernetes.

Every failure is caught at the narrowest scope that still lets the rest be audited: a cluster's
Kubernetes API failing (an error, a malformed answer, an answer that never ends) costs only that
cluster's pod counts; anything else failing for one cluster costs that cluster; an account or
region failing costs only that target. Any exception counts, not only the expected ones.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from ipaudit.audit.assemble import assemble_cluster, cluster_instances, group_instance_types
from ipaudit.audit.bounded import DeadlineExceeded, call_by, remaining
from ipaudit.aws.autoscaling import describe_groups, members
from ipaudit.aws.ec2 import VpcInventory, describe_vpc, vpc_cidrs
from ipaudit.aws.eks import EksCluster, describe_clusters
from ipaudit.aws.error_line import one_line
from ipaudit.aws.instance_types import UnknownInstanceTypeError, describe_instance_types
from ipaudit.aws.nau import vpc_networks
from ipaudit.aws.reservations import with_reservations
from ipaudit.aws.session import TargetError, shared_access
from ipaudit.kube.kube_view import KubeError, collect_kube
from ipaudit.kube.token import EksTokens, presigned_token
from ipaudit.settings import Settings
from ipaudit.snapshot import InstanceTypeLimits, KubeView, Subnet, TargetSnapshot

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]


# A cluster's Kubernetes collection gets this long, and at most half the run's time left, so a
# dripping API costs its own pod counts, never the target's EC2 view.
KUBE_DEADLINE_SECONDS = 60.0


def collect_kube_view(
    sts_client: Any, eks: EksCluster, settings: Settings, deadline: float | None = None
) -> tuple[KubeView | None, str | None]:
    """The cluster's Kubernetes view, or why there is none; `sts_client` presigns its tokens."""
    endpoint = settings.kube_endpoint(eks.name, eks.arn) or eks.endpoint
    if not endpoint:
        return None, "the cluster has no API endpoint"
    tokens = EksTokens(lambda: presigned_token(sts_client, eks.name))
    budget = KUBE_DEADLINE_SECONDS
    left = remaining(deadline)
    if left is not None:
        budget = min(budget, left / 2)
    try:
        view = call_by(
            lambda: collect_kube(endpoint, tokens, eks.ca_data),
            time.monotonic() + budget,
        )
    except KubeError as error:
        return None, str(error)
    except DeadlineExceeded:
        return None, f"Kubernetes API at {endpoint} did not answer within {budget:.1f} s"
    except Exception as error:
        # A malformed answer the reader did not foresee: this cluster's gap, not the run's end.
        logger.warning("cluster %s: Kubernetes answer unreadable", eks.name, exc_info=True)
        return None, (
            f"Kubernetes API at {endpoint} sent an unreadable answer ({type(error).__name__})"
        )
    return view, None


def collect_target(
    base: boto3.Session,
    account_id: str,
    region: str,
    *,
    caller_account: str,
    settings: Settings,
    progress: Progress | None = None,
    deadline: float | None = None,
) -> TargetSnapshot:
    try:
        return _collect_target(
            base, account_id, region, caller_account, settings, progress, deadline
        )
    except Exception as error:
        # Whatever else broke (a malformed answer, a bug): this target's gap, not the run's end.
        logger.warning("target %s/%s failed", account_id, region, exc_info=True)
        return TargetSnapshot(
            account_id, region, error=f"unexpected {type(error).__name__}: {one_line(error)}"
        )


def _collect_target(
    base: boto3.Session,
    account_id: str,
    region: str,
    caller_account: str,
    settings: Settings,
    progress: Progress | None,
    deadline: float | None,
) -> TargetSnapshot:
    access = shared_access(
        base,
        caller_account=caller_account,
        role_name=settings.role_name,
        external_id=settings.external_id,
    )
    try:
        eks_client = access.client(account_id, region, "eks")
        ec2_client = access.client(account_id, region, "ec2")
        clusters = describe_clusters(eks_client, ec2_client)
        vpc_ids = {c.vpc_id for c in clusters}
        cidrs = vpc_cidrs(ec2_client, vpc_ids)
        inventories: dict[str, VpcInventory] = {
            vpc_id: replace(describe_vpc(ec2_client, vpc_id), cidrs=cidrs.get(vpc_id, ()))
            for vpc_id in vpc_ids
        }
        notes: set[str] = set()
        for vpc_id, inventory in inventories.items():
            subnets, said = with_reservations(ec2_client, _used_subnets(clusters, inventory))
            by_id = {s.subnet_id: s for s in subnets}
            inventories[vpc_id] = replace(
                inventory, subnets=tuple(by_id.get(s.subnet_id, s) for s in inventory.subnets)
            )
            notes.update(said)
        sts_client = access.client(account_id, region, "sts") if clusters else None
        kube = {c.name: collect_kube_view(sts_client, c, settings, deadline) for c in clusters}
        asgs = sorted({g for c in clusters for g in c.nodegroup_asgs})
        groups = (
            describe_groups(access.client(account_id, region, "autoscaling"), asgs) if asgs else {}
        )
        in_groups = members(groups)
        instance_types = {
            instance.instance_type
            for c in clusters
            for instance in cluster_instances(
                c, inventories[c.vpc_id], kube[c.name][0], in_groups.keys()
            )
        }
        # The types new nodes would be: their start-up need bounds the scale ceilings.
        instance_types |= {t for c in clusters for t in group_instance_types(c, kube[c.name][0])}
        limits = known_instance_types(ec2_client, instance_types)
        vpcs = vpc_networks(
            access.client(account_id, region, "service-quotas"),
            ec2_client,
            account_id,
            region,
            {vpc_id: inventory.enis for vpc_id, inventory in inventories.items()},
        )
    except TargetError as error:
        return TargetSnapshot(account_id, region, error=str(error))
    except (ClientError, BotoCoreError, ResponseParserError) as error:
        logger.warning("target %s/%s failed: %s", account_id, region, one_line(error))
        return TargetSnapshot(account_id, region, error=one_line(error))
    if progress is not None:
        progress(f"{account_id}/{region}: {len(clusters)} cluster(s)")
    assembled = []
    failed = []
    for c in clusters:
        try:
            assembled.append(
                assemble_cluster(
                    c,
                    account_id=account_id,
                    region=region,
                    inventory=inventories[c.vpc_id],
                    kube=kube[c.name][0],
                    kube_error=kube[c.name][1],
                    limits=limits,
                    group_members=in_groups.keys(),
                    groups=groups,
                )
            )
        except Exception as error:
            logger.warning("cluster %s failed", c.name, exc_info=True)
            failed.append((c.name, f"unexpected {type(error).__name__}: {one_line(error)}"))
    return TargetSnapshot(
        account_id,
        region,
        clusters=tuple(assembled),
        notes=tuple(sorted(notes)),
        cluster_errors=tuple(failed),
        vpcs=vpcs,
    )


def _used_subnets(clusters: list[EksCluster], inventory: VpcInventory) -> list[Subnet]:
    """The VPC's subnets the audit may report on: reservations are read for these only."""
    wanted = {s for c in clusters if c.vpc_id == inventory.vpc_id for s in c.subnet_ids}
    wanted |= {s for c in clusters for s in c.nodegroup_subnet_ids}
    wanted |= {e.subnet_id for e in inventory.enis}
    wanted |= {i.subnet_id for i in inventory.instances}
    return [s for s in inventory.subnets if s.subnet_id in wanted or s.tags]


def known_instance_types(ec2_client: Any, names: set[str]) -> dict[str, InstanceTypeLimits]:
    """The limits of every type EC2 knows; a type it does not know costs only its own nodes'
    limits (the analysis says so), never the target."""
    wanted = set(names)
    while wanted:
        try:
            return describe_instance_types(ec2_client, sorted(wanted))
        except UnknownInstanceTypeError as error:
            unknown = set(error.names) & wanted
            if not unknown:
                raise
            wanted -= unknown
    return {}
