"""(a) Collection CPU on a generated organization, replayed from recorded answers.

ipaudit's whole audit (collect, analyse, recommend, then the post-audit history and forecast)
against the floor: a plain script making the same reads — boto3 paginators for the same AWS
pages and `json.loads` of the same Kubernetes pages — and nothing else. Both read the same
recorded bytes in the same process, so the ratio is what ipaudit adds to reading.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3

from bench.org import CLUSTER, REGIONS, SUBNETS, VPC, Recording, aws_answer, kube_answer
from bench.replay import replaying_aws, replaying_kube
from ipaudit.aws.nau import NAU_QUOTA_CODE, PEERED_NAU_QUOTA_CODE
from ipaudit.gc_pause import collection_paused

PHASES = ("kubernetes", "ec2", "other collection", "analysis", "recommendation", "history")


@dataclass
class Meter:
    """CPU seconds per phase, summed over the threads that ran them."""

    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(PHASES, 0.0))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, phase: str, took: float) -> None:
        with self.lock:
            self.seconds[phase] += took


def _metered(meter: Meter, phase: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args: Any, **kwargs: Any) -> Any:
        started = time.thread_time()
        try:
            return function(*args, **kwargs)
        finally:
            meter.add(phase, time.thread_time() - started)

    return run


@contextmanager
def _patched(target: Any, name: str, value: Any) -> Iterator[None]:
    original = getattr(target, name)
    setattr(target, name, value)
    try:
        yield
    finally:
        setattr(target, name, original)


@contextmanager
def environment() -> Iterator[None]:
    """Fake credentials and nothing of the developer's AWS or ipaudit settings."""
    saved = dict(os.environ)
    for key in list(os.environ):
        if key.startswith(("AWS_", "IPAUDIT_")):
            del os.environ[key]
    os.environ.update(
        AWS_ACCESS_KEY_ID="AKIAREPLAY",
        AWS_SECRET_ACCESS_KEY="replay",
        AWS_DEFAULT_REGION=REGIONS[0],
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def audit_cpu(recording: Recording) -> tuple[float, dict[str, float]]:
    """ipaudit's CPU for one audit of the recorded organization, whole and by phase."""
    import ipaudit.analysis.report_builder as report_builder
    import ipaudit.audit.collect_target as collect
    import ipaudit.audit.run as run
    from ipaudit.pipeline import after_audit
    from ipaudit.settings import Settings

    meter = Meter()
    with ExitStack() as stack:
        stack.enter_context(environment())
        stack.enter_context(replaying_aws(aws_answer(recording)))
        stack.enter_context(replaying_kube(kube_answer(recording)))
        stack.enter_context(
            _patched(collect, "collect_kube", _metered(meter, "kubernetes", collect.collect_kube))
        )
        for name in ("describe_vpc", "describe_instance_types"):
            stack.enter_context(
                _patched(collect, name, _metered(meter, "ec2", getattr(collect, name)))
            )
        recommend = _metered(meter, "recommendation", report_builder.recommend)
        stack.enter_context(_patched(report_builder, "recommend", recommend))
        stack.enter_context(
            _patched(run, "build_report", _metered(meter, "analysis", run.build_report))
        )
        if hasattr(run, "build_report"):
            build = _metered(meter, "analysis", run.build_report)
            stack.enter_context(_patched(run, "build_report", build))
        settings = Settings.from_env(
            {
                "IPAUDIT_ACCOUNTS": ",".join(recording.accounts),
                "IPAUDIT_REGIONS": ",".join(REGIONS),
                "IPAUDIT_TABLE": "ipaudit",
            }
        )
        session = boto3.Session()
        started = time.process_time()
        report = run.run_audit(settings, session, now=datetime(2026, 11, 27, tzinfo=UTC))
        collected = time.process_time() - started
        recommended_in_audit = meter.seconds["recommendation"]
        history_started = time.thread_time()
        after_audit(report, settings, session, notify=False, now=datetime(2026, 11, 27, tzinfo=UTC))
        history = time.thread_time() - history_started
        total = time.process_time() - started
    assert len(report.clusters) == len(recording.accounts) * len(REGIONS), report.coverage
    assert all(c.status == "ok" for c in report.coverage), report.coverage
    phases = dict(meter.seconds)
    sizing = phases["recommendation"] - recommended_in_audit  # peak sizing after the audit
    phases["analysis"] -= recommended_in_audit
    phases["history"] = history - sizing
    phases["other collection"] = max(
        0.0, collected - phases["kubernetes"] - phases["ec2"] - meter.seconds["analysis"]
    )
    return total, phases


def floor_cpu(recording: Recording) -> float:
    """The same reads and nothing else: paginators, json.loads of the Kubernetes pages."""
    with ExitStack() as stack:
        stack.enter_context(environment())
        stack.enter_context(replaying_aws(aws_answer(recording)))
        read = kube_answer(recording)
        started = time.process_time()
        base = boto3.Session()
        base.client("sts").get_caller_identity()
        for account in recording.accounts:
            keys = base.client("sts").assume_role(
                RoleArn=f"arn:aws:iam::{account}:role/IpAuditReadOnly", RoleSessionName="floor"
            )["Credentials"]
            credentials = {
                "aws_access_key_id": keys["AccessKeyId"],
                "aws_secret_access_key": keys["SecretAccessKey"],
                "aws_session_token": keys["SessionToken"],
            }
            for region in REGIONS:
                eks = base.client("eks", region_name=region, **credentials)
                ec2 = base.client("ec2", region_name=region, **credentials)
                groups = []
                for page in eks.get_paginator("list_clusters").paginate():
                    for name in page["clusters"]:
                        eks.describe_cluster(name=name)
                        eks.describe_addon(clusterName=name, addonName="vpc-cni")
                        for listed in eks.get_paginator("list_nodegroups").paginate(
                            clusterName=name
                        ):
                            for group in listed["nodegroups"]:
                                described = eks.describe_nodegroup(
                                    clusterName=name, nodegroupName=group
                                )["nodegroup"]
                                groups += [
                                    g["name"] for g in described["resources"]["autoScalingGroups"]
                                ]
                vpc = [{"Name": "vpc-id", "Values": [VPC]}]
                for operation in (
                    "describe_subnets",
                    "describe_network_interfaces",
                    "describe_instances",
                ):
                    paginator = ec2.get_paginator(operation)
                    with collection_paused():  # as the audit reads them
                        pages = paginator.paginate(Filters=vpc, PaginationConfig={"PageSize": 1000})
                        for _ in pages:
                            pass
                for subnet in SUBNETS:
                    ec2.get_subnet_cidr_reservations(SubnetId=subnet)
                autoscaling = base.client("autoscaling", region_name=region, **credentials)
                for _ in autoscaling.get_paginator("describe_auto_scaling_groups").paginate(
                    AutoScalingGroupNames=groups
                ):
                    pass
                ec2.describe_instance_types(InstanceTypes=["m5.2xlarge"])
                quotas = base.client("service-quotas", region_name=region, **credentials)
                for code in (NAU_QUOTA_CODE, PEERED_NAU_QUOTA_CODE):
                    quotas.get_service_quota(ServiceCode="vpc", QuotaCode=code)
                for _ in ec2.get_paginator("describe_vpc_peering_connections").paginate():
                    pass
                for resource in ("nodes", "pods", "events"):
                    token = ""
                    # As cheaply as plain Python reads pages of thousands of objects: without
                    # the cyclic collector walking them (what the audit does too).
                    with collection_paused():
                        while True:
                            page = _json(read(CLUSTER, f"/api/v1/{resource}", _query(token)))
                            token = page["metadata"].get("continue", "")
                            if not token:
                                break
                _json(read(CLUSTER, "/apis/apps/v1/namespaces/kube-system/daemonsets/aws-node", {}))
        return time.process_time() - started


def _query(token: str) -> dict[str, str]:
    return {"limit": "5000", **({"continue": token} if token else {})}


def _json(data: bytes) -> Any:
    import json

    return json.loads(data)
