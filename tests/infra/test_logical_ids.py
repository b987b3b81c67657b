"""Upgrading the stack keeps what users put into it: the same logical ids, so CloudFormation
updates these resources in place instead of replacing them."""

from __future__ import annotations

import pytest
from cdk_harness import Synth

# The ids these resources had before the stack was composed of constructs (written out, not
# imported: a change to them must fail here).
KEPT = [
    ("AWS::DynamoDB::Table", "TableCD117FA1"),  # run history and alert state
    ("AWS::SNS::Topic", "TopicBFC7AF6E"),  # its confirmed subscribers
    ("AWS::KMS::Key", "TopicKeyB2E0C9CB"),  # the topic's key
    ("AWS::SecretsManager::Secret", "SlackWebhook2D9E8715"),  # the webhook URL put into it
    ("AWS::IAM::Role", "AuditRole88E97C2A"),  # a fixed name the member accounts trust
]


@pytest.mark.parametrize(("resource_type", "logical_id"), KEPT)
def test_stateful_and_named_resources_keep_their_logical_ids(
    synth: Synth, resource_type: str, logical_id: str
) -> None:
    assert logical_id in synth().auditor.find_resources(resource_type)
