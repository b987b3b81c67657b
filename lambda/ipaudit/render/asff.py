"""Findings as AWS Security Finding Format (ASFF) for Security Hub's BatchImportFindings (pure).

Each finding is imported into its own account and region under that account's default product
(`arn:aws:securityhub:<region>:<account>:product/<account>/default`): BatchImportFindings with
the default product must be called by the account the finding names.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal

from ipaudit.report import ClusterReport, Finding

SCHEMA_VERSION = "2018-10-08"
# BatchImportFindings' limits: 100 findings and 6 MB per call, 240 KB per finding.
MAX_FINDINGS_PER_CALL = 100
MAX_BYTES_PER_CALL = 6 * 1024 * 1024
MAX_RESOURCES = 32  # ASFF's limit on Resources
_TITLE_MAX, _DESCRIPTION_MAX = 256, 1024

SEVERITY_LABEL = {"CRITICAL": "CRITICAL", "WARNING": "MEDIUM", "INFO": "INFORMATIONAL"}
_RESOURCE_TYPES = (
    ("subnet-", "AwsEc2Subnet", "subnet"),
    ("eni-", "AwsEc2NetworkInterface", "network-interface"),
    ("vpc-", "AwsEc2Vpc", "vpc"),
    ("i-", "AwsEc2Instance", "instance"),
)

State = Literal["active", "muted", "resolved"]


def partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def product_arn(account_id: str, region: str) -> str:
    """The account's default product: what a customer's own findings are imported under."""
    return f"arn:{partition(region)}:securityhub:{region}:{account_id}:product/{account_id}/default"


def to_asff(
    finding: Finding,
    state: State,
    *,
    created_at: str,
    updated_at: str,
    cluster: ClusterReport | None = None,
) -> dict[str, Any]:
    """One finding as ASFF; `created_at` is when it was first seen, `updated_at` this run."""
    workflow = {"active": "NEW", "muted": "SUPPRESSED", "resolved": "RESOLVED"}[state]
    label = SEVERITY_LABEL[finding.severity]
    product_fields = {
        "ipaudit/kind": finding.kind,
        "ipaudit/severity": finding.severity,
        "ipaudit/cluster": finding.cluster or "-",
        "ipaudit/muted": "true" if finding.muted else "false",
    }
    if finding.muted:
        product_fields["ipaudit/mute_reason"] = finding.mute_reason or ""
        product_fields["ipaudit/mute_expires_at"] = finding.mute_expires_at or ""
        product_fields["ipaudit/muted_by"] = finding.muted_by or ""
    return {
        "SchemaVersion": SCHEMA_VERSION,
        "Id": finding.id,
        "ProductArn": product_arn(finding.account_id, finding.region),
        "ProductName": "ipaudit",
        "CompanyName": "ipaudit",
        "GeneratorId": finding.kind,
        "AwsAccountId": finding.account_id,
        "Region": finding.region,
        "Types": ["Effects/Resource Consumption"],
        "CreatedAt": created_at,
        "UpdatedAt": updated_at,
        "Severity": {"Label": label, "Original": finding.severity},
        "FindingProviderFields": {
            "Severity": {"Label": label, "Original": finding.severity},
            "Types": ["Effects/Resource Consumption"],
        },
        "Title": _clip(f"EKS pod IPs: {finding.kind} on {finding.resource}", _TITLE_MAX),
        "Description": _clip(finding.message, _DESCRIPTION_MAX),
        "Resources": resources(finding, cluster),
        "ProductFields": product_fields,
        "Workflow": {"Status": workflow},
        "RecordState": "ARCHIVED" if state == "resolved" else "ACTIVE",
    }


def resources(finding: Finding, cluster: ClusterReport | None) -> list[dict[str, Any]]:
    """The finding's resource (subnet, ENI, VPC...), the cluster, and a leak's ENIs."""
    listed = [_resource(finding.resource, finding.account_id, finding.region)]
    if finding.cluster:
        arn = (
            f"arn:{partition(finding.region)}:eks:{finding.region}:{finding.account_id}:"
            f"cluster/{finding.cluster}"
        )
        listed.append(
            {"Type": "AwsEksCluster", "Id": arn, "Partition": partition(finding.region),
             "Region": finding.region}
        )  # fmt: skip
    if finding.kind == "leaked_enis" and cluster is not None:
        listed += [
            _resource(eni.eni_id, finding.account_id, finding.region) for eni in cluster.leaked_enis
        ]
    unique = {item["Id"]: item for item in listed}
    return list(unique.values())[:MAX_RESOURCES]


def _resource(resource_id: str, account_id: str, region: str) -> dict[str, Any]:
    for prefix, kind, arn_type in _RESOURCE_TYPES:
        if resource_id.startswith(prefix):
            arn = f"arn:{partition(region)}:ec2:{region}:{account_id}:{arn_type}/{resource_id}"
            return {"Type": kind, "Id": arn, "Partition": partition(region), "Region": region}
    return {"Type": "Other", "Id": resource_id, "Partition": partition(region), "Region": region}


def batches(findings: Sequence[Mapping[str, Any]]) -> Iterator[list[Mapping[str, Any]]]:
    """Findings in calls BatchImportFindings accepts: at most 100 and 6 MB each."""
    batch: list[Mapping[str, Any]] = []
    size = 0
    for finding in findings:
        length = len(json.dumps(finding))
        if batch and (len(batch) == MAX_FINDINGS_PER_CALL or size + length > MAX_BYTES_PER_CALL):
            yield batch
            batch, size = [], 0
        batch.append(finding)
        size += length
    if batch:
        yield batch


def group_by_target(findings: Iterable[Finding]) -> dict[tuple[str, str], list[Finding]]:
    """By (account, region): each group is imported with that account's credentials there."""
    groups: dict[tuple[str, str], list[Finding]] = {}
    for finding in findings:
        groups.setdefault((finding.account_id, finding.region), []).append(finding)
    return groups


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
