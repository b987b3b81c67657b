"""The addresses running pods use, to tell a used aws-node address from a warm one."""

from __future__ import annotations

import bisect
import functools
import operator
import socket
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import cast

from ipaudit.snapshot import Eni, KubePod

ADDRESSES_PER_PREFIX = 16
_FINISHED = frozenset({"Succeeded", "Failed"})


def holds_vpc_address(pod: KubePod) -> bool:
    """A pod that occupies an address: not hostNetwork, not finished, and given an IP."""
    return not pod.host_network and pod.phase not in _FINISHED and bool(pod.pod_ip)


def ipv4_int(address: str) -> int:
    # inet_aton is ~10x faster than ipaddress for the hundred thousand addresses of a large VPC.
    try:
        return int.from_bytes(socket.inet_aton(address), "big")
    except OSError:
        return -1  # not an IPv4 address (an IPv6 pod's, say)


_node_name = operator.attrgetter("node_name")
_pod_ip = operator.attrgetter("pod_ip")


@dataclass(frozen=True)
class PodAddresses:
    """Every running pod's podIP, how many run on each node, and which run on Fargate: read in
    one pass over the pods, which number hundreds of thousands in a large cluster."""

    ips: frozenset[str]
    per_node: Counter[str] = field(default_factory=Counter)
    fargate_ips: frozenset[str] = frozenset()
    # An ENI's split, asked by its node's report and by its subnet's attribution alike.
    _splits: dict[str, tuple[int, int]] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )

    @classmethod
    def of(cls, pods: Iterable[KubePod], fargate_nodes: Collection[str] = ()) -> PodAddresses:
        running = list(filter(holds_vpc_address, pods))
        counted = Counter(map(_node_name, running))  # counted in C, then the unbound dropped
        counted.pop(None, None)
        per_node = cast("Counter[str]", counted)
        ips: frozenset[str] = frozenset(map(_pod_ip, running))
        fargate: frozenset[str] = frozenset()
        if fargate_nodes:
            fargate = frozenset(p.pod_ip or "" for p in running if p.node_name in fargate_nodes)
        return cls(ips, per_node, fargate)

    @functools.cached_property
    def sorted_ints(self) -> tuple[int, ...]:
        """The IPv4 addresses as sorted integers, for /28 prefixes (asked only under prefix
        delegation)."""
        return tuple(sorted(n for n in map(ipv4_int, self.ips) if n >= 0))

    def used_in_prefix(self, prefix: str) -> int:
        """How many pod addresses fall inside a /28 prefix."""
        base = ipv4_int(prefix.partition("/")[0])
        if base < 0:
            return 0
        low = bisect.bisect_left(self.sorted_ints, base)
        high = bisect.bisect_left(self.sorted_ints, base + ADDRESSES_PER_PREFIX)
        return high - low

    def split(self, eni: Eni) -> tuple[int, int]:
        """(used, unused) among the ENI's secondary addresses and prefixes."""
        known = self._splits.get(eni.eni_id)
        if known is not None:
            return known
        secondary = eni.private_ips[1:]
        used = sum(map(self.ips.__contains__, secondary))  # in C: 1.5M addresses at 10k nodes
        if eni.prefixes:
            used += sum(self.used_in_prefix(p) for p in eni.prefixes)
        total = len(secondary) + ADDRESSES_PER_PREFIX * len(eni.prefixes)
        self._splits[eni.eni_id] = (used, total - used)
        return used, total - used
