"""The instances of EKS node groups' Auto Scaling groups: nodes found without any tag."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# DescribeAutoScalingGroups accepts at most 50 names per request.
BATCH_SIZE = 50


def group_instance_ids(autoscaling_client: Any, group_names: Iterable[str]) -> dict[str, str]:
    """Instance id -> the Auto Scaling group holding it, for every named group."""
    names = sorted(set(group_names))
    members: dict[str, str] = {}
    paginator = autoscaling_client.get_paginator("describe_auto_scaling_groups")
    for start in range(0, len(names), BATCH_SIZE):
        batch = names[start : start + BATCH_SIZE]
        for page in paginator.paginate(AutoScalingGroupNames=batch):
            for group in page.get("AutoScalingGroups", []):
                for instance in group.get("Instances", []):
                    members[instance["InstanceId"]] = group["AutoScalingGroupName"]
    return members
