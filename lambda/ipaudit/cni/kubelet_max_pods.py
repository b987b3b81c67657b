"""Max pods per instance type, as the EKS AMIs and the EKS max-pods calculator compute them.

`max_pods` is eni-max-pods.txt's E*(I-1)+2 (the +2: aws-node and kube-proxy on the host
network). Custom networking leaves the primary ENI out. Prefix delegation follows
max-pods-calculator.sh: 16 addresses per slot on Nitro (bare metal too), the secondary-IP value
elsewhere, and either way capped at 110 pods up to 30 vCPUs and 250 above.
"""

from __future__ import annotations

from ipaudit.snapshot import InstanceTypeLimits

HOST_NETWORK_PODS = 2
IPS_PER_PREFIX = 16
CAP_SMALL, CAP_LARGE, CAP_VCPU_THRESHOLD = 110, 250, 30


def max_pods(limits: InstanceTypeLimits) -> int:
    return limits.max_enis * (limits.ipv4_per_eni - 1) + HOST_NETWORK_PODS


def max_pods_custom_networking(limits: InstanceTypeLimits) -> int:
    return (limits.max_enis - 1) * (limits.ipv4_per_eni - 1) + HOST_NETWORK_PODS


def max_pods_prefix_delegation(limits: InstanceTypeLimits) -> int:
    if limits.supports_prefix_delegation:
        pods = limits.max_enis * (limits.ipv4_per_eni - 1) * IPS_PER_PREFIX + HOST_NETWORK_PODS
    else:
        pods = max_pods(limits)
    return min(pods, CAP_LARGE if limits.vcpus > CAP_VCPU_THRESHOLD else CAP_SMALL)
