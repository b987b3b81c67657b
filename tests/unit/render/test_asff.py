"""Findings as Security Hub reads them (ASFF), and calls within BatchImportFindings' limits."""

from __future__ import annotations

from dataclasses import replace

from support.reports import ACCOUNT, REGION, cluster, report, subnet

from ipaudit.render.asff import (
    MAX_BYTES_PER_CALL,
    batches,
    product_arn,
    to_asff,
)
from ipaudit.report import Finding, LeakedEni

NOW, FIRST = "2026-03-02T10:00:00Z", "2026-03-01T09:00:00Z"


def critical() -> Finding:
    (finding,) = report([cluster(subnets=[subnet(free=50)])]).findings
    return finding


def test_a_finding_carries_the_required_asff_fields_under_the_default_product() -> None:
    doc = to_asff(critical(), "active", created_at=FIRST, updated_at=NOW)
    assert doc["SchemaVersion"] == "2018-10-08"
    assert doc["Id"] == f"subnet_headroom:{ACCOUNT}:{REGION}:prod:subnet-a"
    assert doc["ProductArn"] == (
        f"arn:aws:securityhub:{REGION}:{ACCOUNT}:product/{ACCOUNT}/default"
    )
    assert (doc["GeneratorId"], doc["AwsAccountId"], doc["Region"]) == (
        "subnet_headroom",
        ACCOUNT,
        REGION,
    )
    assert doc["Severity"]["Label"] == "CRITICAL"
    assert (doc["CreatedAt"], doc["UpdatedAt"]) == (FIRST, NOW)
    assert doc["Types"] and doc["Title"] and doc["Description"].startswith("subnet subnet-a")
    assert (doc["Workflow"], doc["RecordState"]) == ({"Status": "NEW"}, "ACTIVE")


def test_resources_name_the_subnet_and_the_cluster_by_arn() -> None:
    doc = to_asff(critical(), "active", created_at=NOW, updated_at=NOW)
    assert [(r["Type"], r["Id"]) for r in doc["Resources"]] == [
        ("AwsEc2Subnet", f"arn:aws:ec2:{REGION}:{ACCOUNT}:subnet/subnet-a"),
        ("AwsEksCluster", f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/prod"),
    ]


def test_a_leak_lists_its_enis_among_the_resources() -> None:
    leaky = cluster(leaked=[LeakedEni("eni-1", "subnet-a", 4), LeakedEni("eni-2", "subnet-a", 2)])
    [finding] = [f for f in report([leaky]).findings if f.kind == "leaked_enis"]
    doc = to_asff(finding, "active", created_at=NOW, updated_at=NOW, cluster=leaky)
    assert [r["Type"] for r in doc["Resources"]] == [
        "AwsEc2Vpc",
        "AwsEksCluster",
        "AwsEc2NetworkInterface",
        "AwsEc2NetworkInterface",
    ]
    assert doc["Severity"]["Label"] == "MEDIUM"  # a WARNING


def test_muted_is_suppressed_with_its_reason_and_resolved_is_archived() -> None:
    muted = replace(critical(), muted=True, mute_reason="by design", muted_by="alice")
    doc = to_asff(muted, "muted", created_at=NOW, updated_at=NOW)
    assert (doc["Workflow"]["Status"], doc["RecordState"]) == ("SUPPRESSED", "ACTIVE")
    assert doc["ProductFields"]["ipaudit/mute_reason"] == "by design"
    gone = to_asff(critical(), "resolved", created_at=NOW, updated_at=NOW)
    assert (gone["Workflow"]["Status"], gone["RecordState"]) == ("RESOLVED", "ARCHIVED")


def test_other_partitions_get_their_own_arns() -> None:
    assert product_arn("111111111111", "cn-north-1").startswith("arn:aws-cn:securityhub:cn-north-1")
    assert product_arn("111111111111", "us-gov-west-1").startswith("arn:aws-us-gov:")


def test_a_long_message_is_clipped_to_asffs_description_limit() -> None:
    long = replace(critical(), message="x" * 5000)
    assert len(to_asff(long, "active", created_at=NOW, updated_at=NOW)["Description"]) == 1024


def test_batches_hold_at_most_100_findings() -> None:
    docs = [{"Id": str(n)} for n in range(250)]
    assert [len(b) for b in batches(docs)] == [100, 100, 50]
    assert [d["Id"] for b in batches(docs) for d in b] == [str(n) for n in range(250)]


def test_batches_stay_under_6_mb() -> None:
    docs = [{"Id": str(n), "Description": "y" * 230_000} for n in range(60)]  # ~13.8 MB
    sizes = [len(b) for b in batches(docs)]
    assert sum(sizes) == 60 and len(sizes) == 3
    assert all(n * 230_000 < MAX_BYTES_PER_CALL for n in sizes)


def test_nothing_to_import_makes_no_call() -> None:
    assert list(batches([])) == []
