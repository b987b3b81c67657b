"""Where a fan-out run keeps its parts in S3, and reading and writing them.

    runs/<run id>/targets.json                      every target: [{"account_id", "region"}]
    runs/<run id>/targets/<account>/<region>.json   one target's analysed part (TargetReport)
    runs/<run id>/report.json                       the run's one report, as `audit --json`

Keys hold the run id, and a redriven execution keeps its run id: a batch that runs again
overwrites its own parts and nobody else's.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from ipaudit.audit.run import Target
from ipaudit.report import Report, TargetReport
from ipaudit.report_codec import target_report_from_dict
from ipaudit.settings import SettingsError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

BUCKET_VARIABLE = "IPAUDIT_FANOUT_BUCKET"
# Reading a run's parts is one GET per target: in parallel, like the audit's own targets.
_PARALLEL_READS = 16


def bucket_from_env(env: Mapping[str, str]) -> str:
    bucket = env.get(BUCKET_VARIABLE, "").strip()
    if not bucket:
        raise SettingsError(f"{BUCKET_VARIABLE}: not set (the fan-out's results bucket)")
    return bucket


def run_prefix(run_id: str) -> str:
    return f"runs/{run_id}/"


def targets_key(run_id: str) -> str:
    return f"{run_prefix(run_id)}targets.json"


def target_key(run_id: str, account_id: str, region: str) -> str:
    return f"{run_prefix(run_id)}targets/{account_id}/{region}.json"


def report_key(run_id: str) -> str:
    return f"{run_prefix(run_id)}report.json"


def write_targets(s3: S3Client, bucket: str, run_id: str, targets: Sequence[Target]) -> str:
    key = targets_key(run_id)
    items = [{"account_id": account, "region": region} for account, region in targets]
    _put_json(s3, bucket, key, items)
    return key


def read_targets(s3: S3Client, bucket: str, run_id: str) -> list[Target]:
    return [
        (item["account_id"], item["region"]) for item in _get_json(s3, bucket, targets_key(run_id))
    ]


def write_target_report(s3: S3Client, bucket: str, run_id: str, part: TargetReport) -> None:
    _put_body(
        s3, bucket, target_key(run_id, part.account_id, part.region), part.to_json(**_COMPACT)
    )


def read_target_reports(s3: S3Client, bucket: str, run_id: str) -> dict[Target, TargetReport]:
    """Every target's part the batches wrote for this run (a failed batch's targets are absent)."""
    prefix = f"{run_prefix(run_id)}targets/"
    keys = [
        entry["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for entry in page.get("Contents", [])
    ]
    with ThreadPoolExecutor(max_workers=_PARALLEL_READS) as pool:
        parts = list(pool.map(lambda key: _get_json(s3, bucket, key), keys))
    reports = [target_report_from_dict(part) for part in parts]
    return {(part.account_id, part.region): part for part in reports}


def write_report(s3: S3Client, bucket: str, report: Report) -> str:
    key = report_key(report.run_id)
    _put_body(s3, bucket, key, report.to_json(**_COMPACT))
    return key


_COMPACT: dict[str, Any] = {"separators": (",", ":")}


def _put_json(s3: S3Client, bucket: str, key: str, value: Any) -> None:
    _put_body(s3, bucket, key, json.dumps(value, **_COMPACT))


def _put_body(s3: S3Client, bucket: str, key: str, body: str) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=body.encode(), ContentType="application/json")


def _get_json(s3: S3Client, bucket: str, key: str) -> Any:
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def missing(targets: Iterable[Target], found: Mapping[Target, TargetReport]) -> list[Target]:
    return [target for target in targets if target not in found]
