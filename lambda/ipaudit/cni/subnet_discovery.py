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
EXCLUDED = "0"
Version = tuple[int, int, int]
FIRST_WITH_DISCOVERY: Version = (1, 18, 0)
FIRST_WITH_EXCLUSION: Version = (1, 22, 0)
_VERSION = re.compile(r"v?(\d+)\.(\d+)\.(\d+)")
# Go's strconv.ParseBool, as ipamd reads its settings.
_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
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
    # ipamd's parseBoolEnvVar: a value it cannot parse is the default.
    return env.get("ENABLE_SUBNET_DISCOVERY", "") not in _FALSE


def discovers_subnets(env: Mapping[str, str], version: Version | None) -> bool:
    """Whether a node's next ENI goes where discovery says: discovery is on and custom
    networking (which takes precedence) is off."""
    custom = env.get("AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG", "") in _TRUE
    return not custom and discovery_enabled(env, version)


def excluded(subnet: Subnet, version: Version | None) -> bool:
    """`kubernetes.io/role/cni=0`: no pod address comes from this subnet (v1.22+), not even on
    the ENIs a node already has in it."""
    exclusion = version is None or version >= FIRST_WITH_EXCLUSION
    return exclusion and subnet.tags.get(DISCOVERY_TAG) == EXCLUDED


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
    if not cluster_name:
        return True
    cluster_tags = {key for key in subnet.tags if key.startswith(CLUSTER_TAG_PREFIX)}
    return not cluster_tags or CLUSTER_TAG_PREFIX + cluster_name in cluster_tags


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
