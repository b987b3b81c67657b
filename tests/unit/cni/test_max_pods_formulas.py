"""Max pods: eni-max-pods.txt's E*(I-1)+2, custom networking, and the EKS calculator for PD."""

from __future__ import annotations

import pytest

from ipaudit.cni.kubelet_max_pods import (
    max_pods,
    max_pods_custom_networking,
    max_pods_prefix_delegation,
)
from ipaudit.snapshot import InstanceTypeLimits


@pytest.mark.parametrize(
    ("limits", "expected"),
    [
        (InstanceTypeLimits("m5.large", 3, 10, 2, "nitro"), (29, 20, 110)),
        (InstanceTypeLimits("m5.8xlarge", 8, 30, 32, "nitro"), (234, 205, 250)),  # 7 * 29 + 2
        (InstanceTypeLimits("t3.medium", 3, 6, 2, "nitro"), (17, 12, 110)),
        (InstanceTypeLimits("m5.24xlarge", 15, 50, 96, "nitro"), (737, 688, 250)),
        (InstanceTypeLimits("c6g.medium", 2, 4, 1, "nitro"), (8, 5, 98)),  # under the cap
        (InstanceTypeLimits("t3.micro", 2, 2, 2, "nitro"), (4, 3, 34)),
        # xen: no prefix delegation; the calculator's secondary-IP value, capped
        (InstanceTypeLimits("m4.4xlarge", 8, 30, 16, "xen"), (234, 205, 110)),
        (InstanceTypeLimits("t2.medium", 3, 6, 2, "xen"), (17, 12, 17)),
        # bare metal supports prefix delegation
        (InstanceTypeLimits("m5.metal", 15, 50, 96, "", bare_metal=True), (737, 688, 250)),
    ],
)
def test_max_pods_match_the_eks_ami_values(
    limits: InstanceTypeLimits, expected: tuple[int, int, int]
) -> None:
    assert (
        max_pods(limits),
        max_pods_custom_networking(limits),
        max_pods_prefix_delegation(limits),
    ) == expected
