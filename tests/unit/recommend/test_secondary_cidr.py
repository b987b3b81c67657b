"""The secondary CIDR for pods: a block of 100.64.0.0/10 the VPC does not hold, one subnet per
zone, twice what the busiest zone's pods draw (worked by hand)."""

from __future__ import annotations

from ipaudit.recommend.secondary_cidr import PodSubnet, plan_secondary_cidr

ZONES = ("eu-west-1a", "eu-west-1b", "eu-west-1c")


def test_a_vpc_without_100_64_gets_its_first_block() -> None:
    # The busiest zone draws 1500: 3000 with headroom, a /20 (4091 usable) per zone; two
    # zones, two /20s: a /19.
    plan = plan_secondary_cidr(["10.0.0.0/16"], {"eu-west-1a": 1500, "eu-west-1b": 900})
    assert plan is not None
    assert plan.block == "100.64.0.0/19"
    assert plan.subnets == (
        PodSubnet("eu-west-1a", "100.64.0.0/20", 4091),
        PodSubnet("eu-west-1b", "100.64.16.0/20", 4091),
    )
    assert (plan.needed_per_zone, plan.fits) == (3000, True)


def test_a_vpc_already_holding_100_64_0_0_16_gets_the_next_free_block() -> None:
    # Three zones need four /20s (a /18); 100.64.0.0/16 is taken, so the first /18 after it.
    plan = plan_secondary_cidr(["10.0.0.0/16", "100.64.0.0/16"], dict.fromkeys(ZONES, 1500))
    assert plan is not None
    assert plan.block == "100.65.0.0/18"
    assert [s.cidr for s in plan.subnets] == ["100.65.0.0/20", "100.65.16.0/20", "100.65.32.0/20"]


def test_a_partly_used_range_is_skipped_block_by_block() -> None:
    # 100.64.0.0/24 is in use: the first /22 overlaps it, the second is free.
    plan = plan_secondary_cidr(["100.64.0.0/24"], {"eu-west-1a": 100})
    assert plan is not None
    # 200 with headroom: the smallest pod subnet, a /24; one zone: the block is that /24.
    assert (plan.block, [s.cidr for s in plan.subnets]) == ("100.64.1.0/24", ["100.64.1.0/24"])


def test_more_than_a_16_can_hold_is_said() -> None:
    plan = plan_secondary_cidr([], dict.fromkeys(ZONES, 20000))
    assert plan is not None and plan.block == "100.64.0.0/16"
    assert [s.cidr for s in plan.subnets][:1] == ["100.64.0.0/18"]
    assert not plan.fits


def test_a_vpc_holding_all_of_100_64_0_0_10_gets_none() -> None:
    assert plan_secondary_cidr(["100.64.0.0/10"], {"eu-west-1a": 10}) is None
