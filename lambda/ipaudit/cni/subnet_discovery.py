"""Where aws-node (ipamd) creates a node's next ENI: enhanced subnet discovery (pure).

What aws/amazon-vpc-cni-k8s does (pkg/awsutils createENI, GetVpcSubnets,
isSubnetValidForENICreation, IsSubnetExcluded; docs/design.md "Where pods take addresses"):
- `ENABLE_SUBNET_DISCOVERY` defaults to true from v1.18; before v1.18 there is no discovery.
- Custom networking wins: a new ENI goes to the ENIConfig's subnet and nothing is discovered.
- With discovery, each new ENI asks DescribeSubnets for the node's VPC and zone, sorts the
  answer by free addresses (most first; the node's own subnet gets no preference) and creates
  the ENI in the first valid subnet, trying the next one when EC2 refuses.
- Valid, v1.22+: `kubernetes.io/role/cni=0` never (the node's own subnet included); no tag or an
  empty value only for the node's own subnet; any other value when the subnet carries no
  `cni.networking.k8s.aws/cluster/*` tag, or carries this cluster's (checked only when aws-node's
  `CLUSTER_NAME` is set). v1.18-v1.21: the node's own subnet, and any subnet with the tag key
  whatever its value (`0` excluded nothing yet).
- Adding addresses to an existing ENI always draws on that ENI's own subnet.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from ipaudit.snapshot import Subnet

DISCOVERY_TAG = "kubernetes.io/role/cni"
CLUSTER_TAG_PREFIX = "cni.networking.k8s.aws/cluster/"
# v1.22.0 matched cluster tags under the EKS prefix, with no guard for an empty CLUSTER_NAME
# (#3463); v1.22.1 moved them to CLUSTER_TAG_PREFIX and skips the check when it is empty (#3647).
OLD_CLUSTER_TAG_PREFIX = "kubernetes.io/cluster/"
EXCLUDED = "0"
Version = tuple[int, int, int]
FIRST_WITH_DISCOVERY: Version = (1, 18, 0)
FIRST_WITH_EXCLUSION: Version = (1, 22, 0)
FIRST_WITH_CNI_CLUSTER_TAGS: Version = (1, 22, 1)
# v1.20.0-v1.21.x skip discovery in IPv6 mode (`useSubnetDiscovery && !v6Enabled`).
IPV6_SKIPPED: tuple[Version, Version] = ((1, 20, 0), (1, 22, 0))
_VERSION = re.compile(r"v?(\d+)\.(\d+)\.(\d+)")
# Go's strconv.ParseBool, as ipamd reads its settings.
TRUE_WORDS = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_TRUE = TRUE_WORDS
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


def parse_version(text: str | None) -> Version | None:
    """aws-node's version from an add-on version (`v1.19.2-eksbuild.1`) or an image
    (`.../amazon-k8s-cni:v1.19.2-eksbuild.1`); None when it says none."""
    if not text:
        return None
    match = _VERSION.search(text.rsplit(":", 1)[-1] if "/" in text else text)
    return None if match is None else (int(match[1]), int(match[2]), int(match[3]))


def running_version(image: str | None, addon: str | None) -> Version | None:
    """The version aws-node runs: its DaemonSet's image tag, else the managed add-on's."""
    return parse_version(image) or parse_version(addon)


def discovery_enabled(env: Mapping[str, str], version: Version | None) -> bool:
    """Whether ipamd discovers subnets: on by default from v1.18 (an unknown version is taken
    as a current one), and never before."""
    if version is not None and version < FIRST_WITH_DISCOVERY:
        return False
    ipv6 = env.get("ENABLE_IPv6", "") in _TRUE
    if ipv6 and version is not None and IPV6_SKIPPED[0] <= version < IPV6_SKIPPED[1]:
        return False
    # ipamd's parseBoolEnvVar: a value it cannot parse is the default.
    return env.get("ENABLE_SUBNET_DISCOVERY", "") not in _FALSE


def discovers_subnets(env: Mapping[str, str], version: Version | None) -> bool:
    """Whether a node's next ENI goes where discovery says: discovery is on and custom
    networking (which takes precedence) is off."""
    custom = env.get("AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG", "") in _TRUE
    return not custom and discovery_enabled(env, version)


def excluded(subnet: Subnet, version: Version | None, cluster_name: str = "") -> bool:
    """Under subnet discovery (v1.22+), no pod address comes from this subnet, not even on the
    ENIs a node already has in it: tagged `kubernetes.io/role/cni=0`, or tagged and for
    another cluster (ipamd's IsSubnetExcluded; an untagged subnet is not excluded)."""
    if version is not None and version < FIRST_WITH_EXCLUSION:
        return False
    value = subnet.tags.get(DISCOVERY_TAG, "")
    if value == EXCLUDED:
        return True
    return value != "" and not _cluster_matches(subnet, version, cluster_name)


def refused_without_discovery(own: Subnet, version: Version | None) -> bool:
    """With discovery off, v1.22+ refuses every new ENI in a node subnet tagged `=0`."""
    exclusion = version is None or version >= FIRST_WITH_EXCLUSION
    return exclusion and own.tags.get(DISCOVERY_TAG) == EXCLUDED


def valid_for_new_eni(
    subnet: Subnet, *, own: bool, version: Version | None, cluster_name: str = ""
) -> bool:
    """Whether ipamd may create a node's next ENI in `subnet` (`own`: the node's subnet)."""
    if version is not None and version < FIRST_WITH_EXCLUSION:
        return own or DISCOVERY_TAG in subnet.tags
    value = subnet.tags.get(DISCOVERY_TAG, "")
    if value == EXCLUDED:
        return False
    if value == "":
        return own
    return _cluster_matches(subnet, version, cluster_name)


def _cluster_matches(subnet: Subnet, version: Version | None, cluster_name: str) -> bool:
    """ValidSubnetTagsMatchingClusterName: a subnet tagged for clusters must name this one."""
    if version is not None and version < FIRST_WITH_CNI_CLUSTER_TAGS:
        prefix = OLD_CLUSTER_TAG_PREFIX  # v1.22.0: checked even with CLUSTER_NAME empty
    elif not cluster_name:
        return True
    else:
        prefix = CLUSTER_TAG_PREFIX
    cluster_tags = {key for key in subnet.tags if key.startswith(prefix)}
    return not cluster_tags or prefix + cluster_name in cluster_tags


def candidate_subnets(
    own: Subnet,
    vpc_subnets: Sequence[Subnet],
    *,
    version: Version | None,
    cluster_name: str = "",
) -> list[Subnet]:
    """The subnets a node in `own` takes its next ENI from, in ipamd's order: its VPC and zone,
    most free addresses first (EC2's answer order among equals is unspecified; here, by id)."""
    zone = {s.subnet_id: s for s in vpc_subnets if s.vpc_id == own.vpc_id and s.az == own.az}
    zone.setdefault(own.subnet_id, own)
    ordered = sorted(
        (s for s in zone.values() if not s.ipv6_only),
        key=lambda s: (-s.available_ips, s.subnet_id),
    )
    return [
        s
        for s in ordered
        if valid_for_new_eni(
            s, own=s.subnet_id == own.subnet_id, version=version, cluster_name=cluster_name
        )
    ]
