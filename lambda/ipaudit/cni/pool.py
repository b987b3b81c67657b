"""ipamd's pool manager, one pass per 5-second tick (StartNodeIPPoolManager).

Per pass, as `updateIPPoolIfRequired` does: grow the pool when it is too low (at most one EC2
allocation), else shrink it when it is too high and the last decrease is more than 30 s ago,
then try to detach one ENI. Every EC2 call ipamd would make is counted: the price of a tight
warm pool.
"""

from __future__ import annotations

from collections import Counter

from ipaudit.cni.cni_settings import CniSettings
from ipaudit.cni.datastore import IPS_PER_PREFIX, MIN_ENI_LIFETIME, Node, PoolEni, PoolStats
from ipaudit.cni.placement import Placement

DECREASE_INTERVAL = 30  # seconds between pool decreases (decreaseIPPoolInterval)
# After InsufficientFreeAddressesInSubnet / InsufficientCidrBlocks, no increase for this long.
INSUFFICIENT_ADDRESSES_BACKOFF = 120

# The EC2 calls behind each pool action (awsutils: AllocIPAddresses, AllocENI, FreeENI, ...).
ASSIGN = ("AssignPrivateIpAddresses",)
UNASSIGN = ("UnassignPrivateIpAddresses",)
ALLOCATE_ENI = (
    "DescribeInstances",  # a free device number
    "CreateNetworkInterface",  # with its first addresses or prefixes
    "AttachNetworkInterface",
    "ModifyNetworkInterfaceAttribute",  # DeleteOnTermination
)
FREE_ENI = ("DescribeNetworkInterfaces", "DetachNetworkInterface", "DeleteNetworkInterface")
EC2_APIS = tuple(dict.fromkeys(ASSIGN + UNASSIGN + ALLOCATE_ENI + FREE_ENI))


def _ceil_div(x: int, y: int) -> int:
    return -(-x // y)


class PoolManager:
    def __init__(
        self,
        node: Node,
        settings: CniSettings,
        *,
        max_pods: int,
        placement: Placement,
        max_ips_held: int | None = None,
    ) -> None:
        self.node = node
        self.settings = settings
        self.max_pods = max_pods
        self.placement = placement
        # The most addresses the node's subnet lets it hold (primaries included); None: no limit.
        self.max_ips_held = max_ips_held
        self.ec2_calls: Counter[str] = Counter()
        self.last_decrease: int | None = None
        self.last_insufficient: int | None = None

    def run_pass(self, now: int) -> bool:
        """One pool-manager pass; whether the pool changed."""
        stats = self.node.stats()
        changed = False
        if self._too_low(stats):
            changed = self._increase(now, stats)
        elif self._too_high(stats) and not self._decrease_too_soon(now):
            changed = self._decrease(now)
            self.last_decrease = now
        # ipamd judges this on the stats taken before the pass, as we do.
        if self._should_remove_extra_enis(stats):
            changed = self._free_eni(now) or changed
        return changed

    def next_event(self, now: int) -> int | None:
        """The earliest time after `now` at which a timer could change what a pass does."""
        times = []
        cooldown_ends = [until for b in self.node.blocks() for until in b.cooling if until >= now]
        if cooldown_ends:
            times.append(min(cooldown_ends) + 1)  # cooling while now <= until
        times += [
            eni.created + MIN_ENI_LIFETIME
            for eni in self.node.enis
            if not eni.primary and eni.created + MIN_ENI_LIFETIME > now
        ]
        if self.last_decrease is not None and self.last_decrease + DECREASE_INTERVAL >= now:
            times.append(self.last_decrease + DECREASE_INTERVAL + 1)
        backoff = self.last_insufficient
        if backoff is not None and backoff + INSUFFICIENT_ADDRESSES_BACKOFF >= now:
            times.append(backoff + INSUFFICIENT_ADDRESSES_BACKOFF + 1)
        return min(times) if times else None

    # -- decisions --------------------------------------------------------------------------

    def _target_state(self, stats: PoolStats) -> tuple[int, int]:
        """datastoreTargetState: (short, over) in addresses, or in prefixes in prefix mode."""
        wit, mit = self.settings.warm_ip_target, self.settings.minimum_ip_target
        short = max(wit - stats.available, mit - stats.total, 0)
        over = max(min(stats.available - wit, stats.total - mit), 0)
        if not self.node.prefix_mode:
            return short, over
        needed_for_warm = _ceil_div(stats.assigned + wit, IPS_PER_PREFIX)
        needed_for_minimum = _ceil_div(mit, IPS_PER_PREFIX)
        over_prefixes = max(min(stats.free_prefixes, stats.prefixes - needed_for_warm), 0)
        over_prefixes = max(min(over_prefixes, stats.prefixes - needed_for_minimum), 0)
        return _ceil_div(short, IPS_PER_PREFIX), over_prefixes

    def _warm_target(self) -> int:
        """WARM_ENI_TARGET, or WARM_PREFIX_TARGET in prefix mode (where WARM_ENI_TARGET is moot)."""
        if self.node.prefix_mode:
            return self.settings.warm_prefix_target
        return self.settings.warm_eni_target

    def _too_low(self, stats: PoolStats) -> bool:
        # v1.17.1 (#2745): once the pool covers kubelet's max pods it never grows.
        if stats.total >= self.max_pods:
            return False
        if self.settings.warm_ip_targets_defined:
            return self._target_state(stats)[0] > 0
        warm = self._warm_target()
        unit = IPS_PER_PREFIX if self.node.prefix_mode else self.node.slots_per_eni
        return stats.available < unit * warm or (warm == 0 and stats.available == 0)

    def _too_high(self, stats: PoolStats) -> bool:
        if self.settings.warm_ip_targets_defined:
            return self._target_state(stats)[1] > 0
        if self.node.prefix_mode:
            return stats.free_prefixes > self.settings.warm_prefix_target
        return False  # secondary addresses are only ever released with WARM_IP/MINIMUM_IP targets

    def _decrease_too_soon(self, now: int) -> bool:
        return self.last_decrease is not None and now - self.last_decrease <= DECREASE_INTERVAL

    def _should_remove_extra_enis(self, stats: PoolStats) -> bool:
        if self.settings.warm_ip_targets_defined:
            return True  # getDeletableENI does the real checks
        if stats.available >= (self._warm_target() + 1) * self.node.max_ips_per_eni:
            return True
        # CheckFreeableENIexists: an ENI without pods after its prefixes were trimmed.
        return self.node.prefix_mode and any(
            not eni.primary and eni.assigned == 0 for eni in self.node.enis
        )

    # -- actions ----------------------------------------------------------------------------

    def _wanted(self, stats: PoolStats) -> int:
        """How many addresses (prefixes) one increase asks for."""
        if self.node.prefix_mode:
            if self.settings.warm_ip_targets_defined:
                return max(1, self._target_state(stats)[0])
            return max(1, self.settings.warm_prefix_target - stats.free_prefixes)
        if self.settings.warm_ip_targets_defined:
            return self._target_state(stats)[0]
        return self.node.slots_per_eni  # fill the ENI

    def _increase(self, now: int, stats: PoolStats) -> bool:
        wanted = self._wanted(stats)
        if wanted <= 0 or self._in_backoff(now):
            return False
        node = self.node
        skip_primary = self.settings.custom_networking
        allocatable = [
            eni
            for eni in node.enis
            if not (skip_primary and eni.primary) and node.used_slots(eni) < node.slots_per_eni
        ]
        if allocatable:
            eni = self.placement.first(allocatable)
            amount = min(node.slots_per_eni - node.used_slots(eni), wanted)
            if self._room() < amount * self._unit():
                # EC2 refuses the whole request; ipamd retries once with a single one.
                self._called(ASSIGN)
                amount = 1
                if self._room() < self._unit():
                    self._called(ASSIGN)
                    self.last_insufficient = now
                    return False
            node.add_to_eni(eni, amount)
            self._called(ASSIGN)
            return True
        if len(node.enis) >= node.max_enis:
            return False
        amount = min(wanted, node.slots_per_eni)
        if self._room() < 1 + amount * self._unit():  # the new ENI's primary address too
            self._called(ALLOCATE_ENI[1:2])
            self.last_insufficient = now
            return False
        node.attach_eni(now, amount)
        self._called(ALLOCATE_ENI)
        return True

    def _unit(self) -> int:
        return IPS_PER_PREFIX if self.node.prefix_mode else 1

    def _room(self) -> int:
        """Addresses the subnet can still give this node."""
        if self.max_ips_held is None:
            return 1 << 62
        return self.max_ips_held - self.node.ips_held

    def _in_backoff(self, now: int) -> bool:
        since = self.last_insufficient
        return since is not None and now - since <= INSUFFICIENT_ADDRESSES_BACKOFF

    def _decrease(self, now: int) -> bool:
        """tryUnassignCidrsFromAll: give back the unused addresses (prefixes) over the target."""
        stats = self.node.stats()
        if self.settings.warm_ip_targets_defined:
            over = self._target_state(stats)[1]
        else:
            over = max(stats.free_prefixes - self.settings.warm_prefix_target, 0)
        changed = False
        for eni in self.placement.release_order(self.node.enis):
            if over <= 0:
                break
            freed = self._unassign_from(eni, over, now)
            if freed:
                self._called(UNASSIGN)
                over -= freed
                changed = True
        return changed

    def _unassign_from(self, eni: PoolEni, limit: int, now: int) -> int:
        # FindFreeableCidrs checks only that no pod uses the address: cooling ones go too.
        if not self.node.prefix_mode:
            block = eni.blocks[0]
            count = min(limit, block.size - block.assigned)
            if count:
                block.unassign_addresses(count, now)
            return count
        empty = [block for block in eni.blocks if block.assigned == 0][:limit]
        for block in empty:
            eni.blocks.remove(block)
        return len(empty)

    def _free_eni(self, now: int) -> bool:
        deletable = [eni for eni in self.node.enis if self._deletable(eni, now)]
        if not deletable:
            return False
        self.node.detach_eni(self.placement.last(deletable))
        self._called(FREE_ENI)
        return True

    def _deletable(self, eni: PoolEni, now: int) -> bool:
        """getDeletableENI: old enough, nothing cooling, no pods, not needed for the targets."""
        if eni.primary or now - eni.created < MIN_ENI_LIFETIME:
            return False
        if eni.in_cooling(now) or eni.assigned:
            return False
        others = [other for other in self.node.enis if other is not eni]
        wit, mit = self.settings.warm_ip_target, self.settings.minimum_ip_target
        if self.node.prefix_mode:  # the targets count whole prefixes
            wit = _ceil_div(wit, IPS_PER_PREFIX) * IPS_PER_PREFIX
            mit = _ceil_div(mit, IPS_PER_PREFIX) * IPS_PER_PREFIX
        if wit and sum(o.addresses - o.assigned for o in others) < wit:
            return False
        if mit and sum(o.addresses for o in others) < mit:
            return False
        wpt = self.settings.warm_prefix_target
        if self.node.prefix_mode and wpt:
            free_elsewhere = sum(1 for o in others for b in o.blocks if b.assigned == 0)
            if free_elsewhere < wpt:
                return False
        return True

    def _called(self, apis: tuple[str, ...]) -> None:
        self.ec2_calls.update(apis)
