"""Network Address Usage counted by hand: AWS's weights per ENI kind, a node's pool in units,
the peered total across targets, the findings at the thresholds, what-if's quota check, the
forecast from history and the quota read (stubbed Service Quotas)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from botocore.stub import Stubber
from support.reports import REGION, T0, cluster, report
from unit.aws.aws_stubs import stubbed_client

from ipaudit.analysis.network_address_usage import usage_findings, with_usage
from ipaudit.aws.nau import read_quotas
from ipaudit.capacity.nau import (
    crossed_quotas,
    describe,
    pod_units,
    usage,
    vpc_units,
    warm_units,
    with_peers,
)
from ipaudit.forecast.nau_forecast import KEY_PREFIX, nau_forecast_findings
from ipaudit.settings import Settings
from ipaudit.snapshot import Eni, QuotaReading, VpcNetwork, VpcPeering

ACCOUNT = "111111111111"


def eni(
    eni_id: str,
    addresses: int = 1,
    *,
    interface_type: str = "interface",
    description: str = "",
    prefixes: int = 0,
    device_index: int | None = None,
    ipv6: int = 0,
    vpc_id: str = "vpc-1",
) -> Eni:
    return Eni(
        eni_id=eni_id,
        subnet_id="subnet-a",
        vpc_id=vpc_id,
        status="in-use",
        description=description,
        interface_type=interface_type,
        private_ips=tuple(f"10.0.0.{i}" for i in range(addresses)),
        prefixes=tuple(f"10.0.{i}.0/28" for i in range(prefixes)),
        instance_id=None if device_index is None else "i-1",
        device_index=device_index,
        ipv6_addresses=ipv6,
    )


def network(
    vpc_id: str,
    enis: tuple[Eni, ...],
    *,
    quota: int = 100,
    peered: int = 200,
    peerings: tuple[VpcPeering, ...] = (),
    peer_enis: dict[str, tuple[Eni, ...]] | None = None,
    source: str = "applied",
) -> VpcNetwork:
    return VpcNetwork(
        vpc_id=vpc_id,
        enis=enis,
        quota=QuotaReading(quota, source),
        peered_quota=QuotaReading(peered, source),
        peerings=peerings,
        peer_enis=peer_enis or {},
    )


def test_each_eni_counts_as_aws_table_weighs_it() -> None:
    units = vpc_units(
        [
            eni("primary", 10, device_index=0, ipv6=2),  # 10 IPv4 + 2 IPv6 = 12
            eni("second", 10, device_index=1),  # 10 addresses + 1 for a second ENI
            eni("pd", 1, prefixes=3, device_index=0),  # 1 address + 3 prefixes
            eni("nlb", 1, interface_type="network_load_balancer"),  # 6 per zone
            eni("alb", 2, description="ELB app/web/123"),  # not in the table: 2 addresses
            eni("nat", 1, interface_type="nat_gateway"),  # 6
            eni("vpce", 1, interface_type="vpc_endpoint"),  # 6 per zone
            eni("lambda", 1, interface_type="lambda"),  # 6 (a floor)
            eni("efs", 1, description="EFS mount target for fs-1 (fsmt-1)"),  # 6
            # One transit gateway attachment with an ENI in two zones: 6 once.
            eni("tgw-a", 1, description="Network Interface for Transit Gateway Attachment a-1"),
            eni("tgw-b", 1, description="Network Interface for Transit Gateway Attachment a-1"),
        ]
    )
    assert units == {
        "addresses": 12 + 10 + 1 + 2,
        "prefixes": 3,
        "additional_enis": 1,
        "load_balancers": 6,
        "vpc_endpoints": 6,
        "nat_gateways": 6,
        "lambda": 6,
        "efs": 6,
        "transit_gateways": 6,
    }


def test_a_prefix_is_one_unit_where_its_sixteen_addresses_would_be_sixteen() -> None:
    assert pod_units(False, 17) == 17
    assert pod_units(True, 16) == 1
    assert pod_units(True, 17) == 2  # 17 addresses take two /28s


def test_warm_units_one_per_warm_address_or_per_whole_idle_prefix() -> None:
    sip = cluster("sip")  # 3 nodes x 135 warm
    pd = replace(cluster("pd"), cni={"ENABLE_PREFIX_DELEGATION": "true"})
    assert warm_units([sip]) == 3 * 135
    assert warm_units([pd]) == 3 * (135 // 16)  # 8 whole /28s each
    unknown = replace(sip, nodes=[replace(n, warm_ips=None) for n in sip.nodes])
    assert warm_units([unknown]) is None


def test_usage_against_the_quota_with_the_warm_share() -> None:
    # 3 nodes of 50 addresses on their primary ENI: 150 units, 405 warm... of a quota of 500.
    enis = tuple(eni(f"n{i}", 50, device_index=0) for i in range(3))
    found = usage(network("vpc-1", enis, quota=500), [cluster()])
    assert (found.units, found.free, found.free_pct) == (150, 350, 70.0)
    assert (found.warm_units, found.peered_units, found.peered_free) == (405, 150, 50)
    assert found.quota_source == "applied" and found.notes == []
    assert describe(found).startswith("VPC vpc-1: 150 Network Address Usage units of 500")


def test_a_peer_in_the_same_account_counts_from_its_own_enis() -> None:
    peering = VpcPeering("pcx-1", "vpc-2", ACCOUNT, REGION)
    mine = tuple(eni(f"a{i}", 40, device_index=0) for i in range(2))  # 80
    theirs = (eni("b", 70, device_index=0, vpc_id="vpc-2"),)  # 70
    found = usage(
        network("vpc-1", mine, peerings=(peering,), peer_enis={"vpc-2": theirs}, peered=160),
        [],
    )
    # 80 + 70 = 150 of 160: 10 free.
    assert (found.units, found.peered_units, found.peered_free) == (80, 150, 10)
    assert [(p.vpc_id, p.units) for p in found.peers] == [("vpc-2", 70)]


def test_peered_totals_join_across_targets_and_say_an_unaudited_peer_unknown() -> None:
    east, west = cluster("east", account_id=ACCOUNT), cluster("west", account_id="222222222222")
    west = replace(west, vpc_id="vpc-2")
    to_west = VpcPeering("pcx-1", "vpc-2", "222222222222", REGION)
    to_east = VpcPeering("pcx-1", "vpc-1", ACCOUNT, REGION)
    east = with_usage(
        [east], [network("vpc-1", (eni("a", 60, device_index=0),), peerings=(to_west,))]
    )[0]
    west = with_usage(
        [west],
        [network("vpc-2", (eni("b", 90, device_index=0, vpc_id="vpc-2"),), peerings=(to_east,))],
    )[0]
    assert east.network_address_usage and east.network_address_usage.peered_units is None
    joined = with_peers([east, west])
    # 60 + 90 = 150 of the peered quota 200, seen from either side.
    assert [c.network_address_usage.peered_units for c in joined if c.network_address_usage] == [
        150,
        150,
    ]
    alone = with_peers([east])[0].network_address_usage
    assert alone is not None and alone.peered_units is None
    assert any("vpc-2" in note and "unknown" in note for note in alone.notes)


def test_findings_at_the_usual_thresholds_of_the_quota() -> None:
    settings = Settings()
    near = with_usage([cluster()], [network("vpc-1", (eni("a", 91, device_index=0),))])
    # 91 of 100: 9 free, below 10%: CRITICAL.
    [finding] = usage_findings(near, settings)
    assert (finding.kind, finding.severity, finding.resource, finding.value) == (
        "network_address_usage",
        "CRITICAL",
        "vpc-1",
        9.0,
    )
    assert "405 of them" in finding.message  # the warm pools' units
    warning = with_usage([cluster()], [network("vpc-1", (eni("a", 80, device_index=0),))])
    assert [f.severity for f in usage_findings(warning, settings)] == ["WARNING"]  # 20% free
    roomy = with_usage([cluster()], [network("vpc-1", (eni("a", 75, device_index=0),))])
    assert usage_findings(roomy, settings) == []  # 25% free: not below


def test_the_peered_quota_crossed_while_each_vpc_is_under_its_own() -> None:
    peering = VpcPeering("pcx-1", "vpc-2", ACCOUNT, REGION)
    clusters = with_usage(
        [cluster()],
        [
            network(
                "vpc-1",
                (eni("a", 60, device_index=0),),
                peerings=(peering,),
                peer_enis={"vpc-2": (eni("b", 60, device_index=0, vpc_id="vpc-2"),)},
                peered=130,
            )
        ],
    )
    # Own: 60 of 100 (40% free, no finding); peered: 120 of 130, 10 free = 7.7%: CRITICAL.
    [finding] = usage_findings(clusters, Settings())
    assert (finding.kind, finding.severity, finding.value) == (
        "peered_network_address_usage",
        "CRITICAL",
        10.0,
    )


def test_what_if_crossing_either_quota_does_not_fit() -> None:
    [c] = with_usage([cluster()], [network("vpc-1", (eni("a", 95, device_index=0),))])
    assert c.network_address_usage is not None
    assert crossed_quotas(c.network_address_usage, 5) == []  # 100 of 100 still fits
    [why] = crossed_quotas(c.network_address_usage, 6)
    assert "101" in why and "NetworkAddressUsageLimitExceeded" in why
    assert crossed_quotas(c.network_address_usage, -50) == []


def test_free_units_shrinking_are_forecast_from_history() -> None:
    [c] = with_usage([cluster()], [network("vpc-1", (eni("a", 90, device_index=0),))])
    now = T0 + timedelta(days=4)
    # 40, 30, 20 free on days 1-3, 10 now (day 4; 100 - 90): every pair's slope is -10 a day,
    # so 10 / 10 = 1 day left: CRITICAL.
    key = (c.account_id, c.region, c.name, KEY_PREFIX + "vpc-1")
    past = {key: [(T0 + timedelta(days=d), 50.0 - 10 * d) for d in (1, 2, 3)]}
    run = report([c], at=now)
    [finding] = nau_forecast_findings(run, past, now)
    assert (finding.kind, finding.severity, finding.resource) == (
        "network_address_usage_forecast",
        "CRITICAL",
        "vpc-1",
    )
    assert finding.value == 1.0


def test_quotas_applied_or_the_default_said_as_such() -> None:
    client = stubbed_client("service-quotas")
    with Stubber(client) as stub:
        stub.add_response(
            "get_service_quota",
            {"Quota": {"QuotaCode": "L-BB24F6E5", "Value": 256000.0}},
            {"ServiceCode": "vpc", "QuotaCode": "L-BB24F6E5"},
        )
        stub.add_client_error("get_service_quota", "AccessDeniedException", "not authorized", 400)
        quota, peered = read_quotas(client)
    assert (quota.value, quota.source, quota.note) == (256000, "applied", None)
    assert (peered.value, peered.source) == (128000, "default")
    assert peered.note is not None and "AccessDeniedException" in peered.note
