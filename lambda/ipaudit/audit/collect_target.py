"""Collecting one account x region: EKS, the clusters' VPCs, instance types, Kubernetes.

Every failure is caught at the narrowest scope that still lets the rest be audited: a cluster's
Kubernetes API failing (an error, a malformed answer, an answer that never ends) costs only that
cluster's pod counts; a VPC whose subnets, ENIs or instances cannot be read (an error, or pages
still not answered by the VPCs' share of the deadline) costs only the clusters in it; anything
else failing for one cluster costs that cluster; what the whole account x region shares
(ListClusters, DescribeVpcs, the batched Auto Scaling and instance-type reads) failing costs only
that target. Any exception counts, not only the expected ones.
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
from ipaudit.audit.bounded import DeadlineExceeded, call_by, map_by, remaining
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
from ipaudit.words import plural

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]


# A cluster's Kubernetes collection gets this long, and at most half the run's time left, so a
# dripping API costs its own pod counts, never the target's EC2 view.
KUBE_DEADLINE_SECONDS = 60.0
# VPCs are read side by side, so one whose pages hang holds up none of the others; a few at a
# time, as targets already run 8 at a time.
MAX_PARALLEL_VPCS = 4
# Clusters' Kubernetes APIs likewise: each is bounded on its own (KUBE_DEADLINE_SECONDS).
MAX_PARALLEL_CLUSTERS = 4


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
        # Handled: one line for people; the traceback only for whoever debugs the reader.
        logger.warning(
            "cluster %s: Kubernetes answer unreadable (%s)", eks.name, type(error).__name__
        )
        logger.debug("cluster %s: the unreadable answer's traceback", eks.name, exc_info=True)
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
        logger.warning("target %s/%s failed: %s", account_id, region, type(error).__name__)
        logger.debug("target %s/%s: the failure's traceback", account_id, region, exc_info=True)
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
        cidrs = vpc_cidrs(ec2_client, {c.vpc_id for c in clusters})
        inventories, vpc_errors, notes = read_vpcs(ec2_client, clusters, cidrs, deadline)
        # A VPC not read costs the clusters in it, named with the VPC; the others go on.
        failed = [(c.name, vpc_errors[c.vpc_id]) for c in clusters if c.vpc_id in vpc_errors]
        clusters = [c for c in clusters if c.vpc_id not in vpc_errors]
        sts_client = access.client(account_id, region, "sts") if clusters else None
        kube = collect_kube_views(sts_client, clusters, settings, deadline)
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
        progress(f"{account_id}/{region}: {plural(len(clusters), 'cluster')}")
    assembled = []
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
            logger.warning("cluster %s failed: %s", c.name, type(error).__name__)
            logger.debug("cluster %s: the failure's traceback", c.name, exc_info=True)
            failed.append((c.name, f"unexpected {type(error).__name__}: {one_line(error)}"))
    return TargetSnapshot(
        account_id,
        region,
        clusters=tuple(assembled),
        notes=tuple(sorted(notes)),
        cluster_errors=tuple(sorted(failed)),
        vpcs=vpcs,
    )


VpcRead = tuple[VpcInventory, frozenset[str]] | str  # the inventory and its notes, or why not


def read_vpcs(
    ec2_client: Any,
    clusters: list[EksCluster],
    cidrs: dict[str, tuple[str, ...]],
    deadline: float | None,
) -> tuple[dict[str, VpcInventory], dict[str, str], set[str]]:
    """Every cluster's VPC, each read on its own: (inventories, VPC id -> why it was not read,
    notes). With a deadline the VPCs get half the time left; one not read by then is an error."""
    vpc_ids = sorted({c.vpc_id for c in clusters})
    left = remaining(deadline)
    by = None if left is None else time.monotonic() + left / 2
    outcomes = map_by(
        lambda vpc_id: _read_vpc(ec2_client, vpc_id, clusters, cidrs.get(vpc_id, ())),
        vpc_ids,
        workers=MAX_PARALLEL_VPCS,
        deadline=by,
    )
    inventories: dict[str, VpcInventory] = {}
    errors: dict[str, str] = {}
    notes: set[str] = set()
    for vpc_id, outcome in zip(vpc_ids, outcomes, strict=True):
        if outcome is None:
            budget = (left or 0.0) / 2
            errors[vpc_id] = f"VPC {vpc_id} not read: no answer within {budget:.1f} s"
        elif isinstance(outcome, str):
            errors[vpc_id] = f"VPC {vpc_id} not read: {outcome}"
        else:
            inventories[vpc_id], said = outcome
            notes.update(said)
    return inventories, errors, notes


def _read_vpc(
    ec2_client: Any, vpc_id: str, clusters: list[EksCluster], cidrs: tuple[str, ...]
) -> VpcRead:
    """One VPC's inventory with its subnets' CIDR reservations, or one line saying why not;
    never raises (map_by's work must not)."""
    try:
        inventory = replace(describe_vpc(ec2_client, vpc_id), cidrs=cidrs)
        subnets, said = with_reservations(ec2_client, _used_subnets(clusters, inventory))
    except (ClientError, BotoCoreError, ResponseParserError) as error:
        logger.warning("VPC %s failed: %s", vpc_id, one_line(error))
        return one_line(error)
    except Exception as error:
        logger.warning("VPC %s failed", vpc_id, exc_info=True)
        return f"unexpected {type(error).__name__}: {one_line(error)}"
    by_id = {s.subnet_id: s for s in subnets}
    inventory = replace(
        inventory, subnets=tuple(by_id.get(s.subnet_id, s) for s in inventory.subnets)
    )
    return inventory, frozenset(said)


def collect_kube_views(
    sts_client: Any, clusters: list[EksCluster], settings: Settings, deadline: float | None
) -> dict[str, tuple[KubeView | None, str | None]]:
    """Every cluster's Kubernetes view, side by side: one API that hangs delays none of the
    others (each is bounded by collect_kube_view itself)."""

    def view(eks: EksCluster) -> tuple[KubeView | None, str | None]:
        try:
            return collect_kube_view(sts_client, eks, settings, deadline)
        except Exception as error:  # map_by's work must not raise: this cluster's gap
            logger.warning("cluster %s: Kubernetes collection failed", eks.name, exc_info=True)
            return None, f"unexpected {type(error).__name__}: {one_line(error)}"

    views = map_by(
        view,
        clusters,
        workers=MAX_PARALLEL_CLUSTERS,
        deadline=None,
    )
    return {
        eks.name: found or (None, "Kubernetes collection ended unexpectedly")
        for eks, found in zip(clusters, views, strict=True)
    }


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
