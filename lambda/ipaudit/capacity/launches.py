"""Where new nodes land and how many can start (pure).

- In a zone, each new node goes to the launch subnet with the most free addresses that can
  start it (`start_node`), one node at a time: two subnets of 15 free at 10 per node start
  1 + 1 nodes, never floor(30 / 10). Karpenter picks a zone's subnet by its free addresses
  too (providers/subnet); an Auto Scaling group retries a launch that fails for want of
  addresses in its other subnets, so the group stops only when none can start one.
- Over zones, new nodes are spread evenly, a zone that cannot start one skipped (`place`): an
  Auto Scaling group balances its zones; a NodePool is limited to the zones its
  `topology.kubernetes.io/zone` requirement allows before it gets here.

Nodes that make the same choices are charged in one go (`_repeats`), so a subnet with room
for 100,000 nodes costs a handful of steps, with the same answer as starting them one by one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ipaudit.capacity.room import Room
from ipaudit.capacity.rules import AddressRules
from ipaudit.capacity.startup import StartupNeed, start_node, startup_need
from ipaudit.snapshot import InstanceTypeLimits

Charges = tuple[tuple[str, int, int], ...]  # (subnet, addresses, /28 blocks), in order


def zone_launches(
    limits: InstanceTypeLimits,
    rules: AddressRules,
    launch_subnets: Sequence[str],
    room: Room,
    cap: int,
) -> dict[str, int]:
    """Up to `cap` new nodes started in one zone's launch subnets, charging `room`: how many
    each subnet starts."""
    started = dict.fromkeys(launch_subnets, 0)
    needs = {s: startup_need(limits, rules, s) for s in launch_subnets}
    total = 0
    while total < cap:
        landed = _start_one(limits, rules, launch_subnets, room, needs)
        if landed is None:
            break
        subnet_id, charges = landed
        started[subnet_id] += 1
        total += 1
        more = _repeats(limits, rules, launch_subnets, room, needs, charges, cap - total)
        started[subnet_id] += more
        total += more
    return started


def _start_one(
    limits: InstanceTypeLimits,
    rules: AddressRules,
    launch_subnets: Sequence[str],
    room: Room,
    needs: Mapping[str, StartupNeed],
) -> tuple[str, Charges] | None:
    for subnet_id in sorted(launch_subnets, key=lambda s: (-room.free.get(s, 0), s)):
        node = start_node(limits, rules, subnet_id, room, needs[subnet_id])
        if node is not None:
            return subnet_id, tuple(node.obtained)
    return None


def _repeats(
    limits: InstanceTypeLimits,
    rules: AddressRules,
    launch_subnets: Sequence[str],
    room: Room,
    needs: Mapping[str, StartupNeed],
    charges: Charges,
    most: int,
) -> int:
    """How many more nodes make exactly the choices the last one made, charged to `room`.

    Each choice compares free addresses that fall linearly with every node alike, so if the
    node after `k` more chooses as the last one did, so did each of the `k`; room for them is
    checked the same way (it only falls)."""
    total: dict[str, list[int]] = {}
    for subnet_id, addresses, blocks in charges:
        total.setdefault(subnet_id, [0, 0])
        total[subnet_id][0] += addresses
        total[subnet_id][1] += blocks
    fits = [room.free.get(s, 0) // a for s, (a, _) in total.items() if a > 0]
    fits += [room.blocks.get(s, 0) // b for s, (_, b) in total.items() if b > 0]
    k = min([most, *fits])
    while k > 0:
        trial = room.copy()
        for subnet_id, (addresses, blocks) in total.items():
            trial.take(subnet_id, k * addresses, k * blocks)
        probe = trial.copy()
        if _start_one(limits, rules, launch_subnets, probe, needs) == (charges[0][0], charges):
            room.free, room.blocks = trial.free, trial.blocks
            return k
        k //= 2
    return 0


def place(caps: Mapping[str, int], nodes: int) -> tuple[dict[str, int], list[str]]:
    """`nodes` new nodes spread evenly over the zones, a full zone skipped (zones in name order
    take the odd ones): how many each zone starts, and the zones that run out (fill up while
    nodes are still wanted elsewhere), the first first."""
    placed = dict.fromkeys(sorted(caps), 0)
    left = nodes
    open_zones = [z for z in placed if caps[z] > 0]
    while left > 0 and open_zones:
        step = min(min(caps[z] - placed[z] for z in open_zones), left // len(open_zones))
        if step == 0:
            for zone in open_zones[:left]:  # fewer left than open zones: one each, in order
                placed[zone] += 1
            left = 0
            break
        for zone in open_zones:
            placed[zone] += step
        left -= step * len(open_zones)
        open_zones = [z for z in open_zones if placed[z] < caps[z]]
    most = max(placed.values(), default=0)
    ran_out = [
        zone
        for zone in placed
        if nodes > 0 and placed[zone] == caps[zone] and (left > 0 or most > caps[zone])
    ]
    return placed, sorted(ran_out, key=lambda z: (caps[z], z))
