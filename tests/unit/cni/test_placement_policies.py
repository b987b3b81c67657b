"""Placement policies: pack, spread and ipamd's seeded random choice."""

from __future__ import annotations

import pytest

from ipaudit.cni import CniSettings, simulate
from ipaudit.cni.placement import even_split
from ipaudit.snapshot import InstanceTypeLimits

M5_8XLARGE = InstanceTypeLimits("m5.8xlarge", 8, 30, 32, "nitro")


def test_random_placement_is_reproducible_by_seed() -> None:
    settings = CniSettings.from_env({})
    runs = [
        simulate(M5_8XLARGE, settings, [100, 10, 60, 3], placement="random", seed=7)
        for _ in range(2)
    ]
    assert runs[0] == runs[1]


def test_random_placement_lies_between_pack_and_spread() -> None:
    settings = CniSettings.from_env({})
    held = [
        simulate(M5_8XLARGE, settings, [100, 10], placement="random", seed=seed).steps[1].ips_held
        for seed in range(10)
    ]
    assert all(60 <= h <= 150 for h in held)


@pytest.mark.parametrize(
    ("caps", "total", "expected"),
    [
        ([29] * 5, 10, [2, 2, 2, 2, 2]),
        ([29] * 5, 11, [3, 2, 2, 2, 2]),
        ([1, 29], 10, [1, 9]),
        ([0, 29, 29], 4, [0, 2, 2]),
        ([3, 3], 6, [3, 3]),
    ],
)
def test_spread_places_pods_as_evenly_as_the_addresses_allow(
    caps: list[int], total: int, expected: list[int]
) -> None:
    assert even_split(caps, total) == expected


def test_spread_keeps_every_eni_in_use_when_there_are_enough_pods() -> None:
    # 5 pods over 5 ENIs pin them all; 4 pods leave one empty, which goes.
    settings = CniSettings.from_env({})
    five = simulate(M5_8XLARGE, settings, [100, 5], placement="spread").steps[1]
    four = simulate(M5_8XLARGE, settings, [100, 4], placement="spread").steps[1]
    assert (five.enis, four.enis) == (5, 4)
