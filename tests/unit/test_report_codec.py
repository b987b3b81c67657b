"""A report survives its JSON form: what the fan-out's batches write is what the aggregate reads."""

from __future__ import annotations

import json

from ipaudit.report import (
    ClusterReport,
    Coverage,
    Finding,
    LeakedEni,
    NodeReport,
    Recommendation,
    Report,
    SubnetReport,
    TargetReport,
)
from ipaudit.report_codec import target_report_from_dict
from ipaudit.snapshot import InstanceTypeLimits


def cluster() -> ClusterReport:
    return ClusterReport(
        account_id="111111111111",
        region="eu-west-1",
        name="shop-prod",
        vpc_id="vpc-1",
        cni={"WARM_IP_TARGET": "4"},
        subnets=[SubnetReport("subnet-a", "10.0.0.0/22", "eu-west-1a", 1019, 0, 0.0, 0)],
        nodes=[NodeReport("i-1", "m5.8xlarge", "subnet-a", 5, 150, 145, 10, 135, "node-1", 234)],
        leaked_enis=[LeakedEni("eni-1", "subnet-a", 30)],
        ips_held=150,
        pods=None,
        warm_ips=None,
        recommendation=Recommendation({"WARM_IP_TARGET": "4"}, 20, 130, "kubectl ...", "why", 150),
        instance_types={"m5.8xlarge": InstanceTypeLimits("m5.8xlarge", 8, 30, 32, "nitro")},
        vpc_cni_addon="v1.19.0-eksbuild.1",
    )


def a_target_report() -> TargetReport:
    return TargetReport(
        "111111111111",
        "eu-west-1",
        clusters=[cluster()],
        findings=[
            Finding(
                "id",
                "CRITICAL",
                "subnet_headroom",
                "111111111111",
                "eu-west-1",
                "shop-prod",
                "subnet-a",
                "0 free",
                0.0,
            )
        ],
        coverage=[Coverage("111111111111", "eu-west-1", "shop-prod", "ok")],
    )


def test_a_target_report_round_trips_through_json_with_every_nested_part() -> None:
    part = a_target_report()
    assert target_report_from_dict(json.loads(json.dumps(part.to_dict()))) == part


def test_the_json_written_directly_is_the_dict_form_written() -> None:
    part = a_target_report()
    assert part.to_json() == json.dumps(part.to_dict())
    report = Report("run-1", "2026-12-07T09:00:00Z", part.clusters, part.findings, part.coverage)
    assert report.to_json(indent=2) == json.dumps(report.to_dict(), indent=2)
    assert json.loads(report.to_json())["schema_version"] == report.to_dict()["schema_version"]


def test_fields_a_newer_writer_added_are_ignored() -> None:
    written = TargetReport("111111111111", "eu-west-1", clusters=[cluster()]).to_dict()
    written["clusters"][0]["network_mode_from_the_future"] = "vpc-cni"
    written["clusters"][0]["subnets"][0]["tenancy_from_the_future"] = ["shared"]
    (read,) = target_report_from_dict(written).clusters
    assert read == cluster()
