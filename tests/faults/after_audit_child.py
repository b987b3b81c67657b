"""Run `after_audit` on a stored report in a process of its own, so a test can kill it midway.

    python tests/faults/after_audit_child.py REPORT.json NOW

Settings come from the IPAUDIT_* environment, AWS from AWS_ENDPOINT_URL, like the Lambda.
"""

from __future__ import annotations

import json
import os
import sys

import boto3

from ipaudit.pipeline import after_audit
from ipaudit.report import Report
from ipaudit.report_codec import decode
from ipaudit.settings import Settings
from ipaudit.timestamps import parse_time

if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as file:
        report = decode(Report, json.load(file))
    outcome = after_audit(
        report, Settings.from_env(os.environ), boto3.Session(), now=parse_time(sys.argv[2])
    )
    print(json.dumps(outcome.summary()))
