"""Node groups' Auto Scaling groups: their instances (nodes found without any tag) and sizes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# DescribeAutoScalingGroups accepts at most 50 names per request.
BATCH_SIZE = 50


@dataclass(frozen=True)
class GroupSize:
    """An Auto Scaling group as DescribeAutoScalingGroups gives it."""

    name: str
    min_size: int
    max_size: int
    desired_capacity: int
    instance_ids: tuple[str, ...]


def describe_groups(autoscaling_client: Any, group_names: Iterable[str]) -> dict[str, GroupSize]:
    """Every named group that exists, by name, in one batched, paginated read."""
    names = sorted(set(group_names))
    groups: dict[str, GroupSize] = {}
    paginator = autoscaling_client.get_paginator("describe_auto_scaling_groups")
    for start in range(0, len(names), BATCH_SIZE):
        batch = names[start : start + BATCH_SIZE]
        for page in paginator.paginate(AutoScalingGroupNames=batch):
            for group in page.get("AutoScalingGroups", []):
                name = group["AutoScalingGroupName"]
                groups[name] = GroupSize(
                    name=name,
                    min_size=int(group.get("MinSize") or 0),
                    max_size=int(group.get("MaxSize") or 0),
                    desired_capacity=int(group.get("DesiredCapacity") or 0),
                    instance_ids=tuple(i["InstanceId"] for i in group.get("Instances", [])),
                )
    return groups


def members(groups: dict[str, GroupSize]) -> dict[str, str]:
    """Instance id -> the Auto Scaling group holding it."""
    return {i: group.name for group in groups.values() for i in group.instance_ids}
