"""Logical ids that must not change when the stack's constructs are rearranged.

CloudFormation identifies a resource by its logical id, which CDK derives from the construct
path. Moving a resource into another construct gives it a new id, and CloudFormation then
creates a new resource and deletes (or, if retained, orphans) the old one. For the resources
that hold something a user cares about, that is data loss or a failed deployment:

- the table: the run history and the alert state (retained, so a new, empty table appears);
- the topic and its key: the e-mail and chat subscribers someone confirmed;
- the Slack secret: the webhook URL the user put into it;
- the audit role: its fixed name, which every member account trusts, cannot exist twice.

These keep the ids they had when the stack was one flat construct.
"""

from __future__ import annotations

import aws_cdk as cdk
from constructs import Construct

TABLE = "TableCD117FA1"
TOPIC_KEY = "TopicKeyB2E0C9CB"
TOPIC = "TopicBFC7AF6E"
SLACK_SECRET = "SlackWebhook2D9E8715"
AUDIT_ROLE = "AuditRole88E97C2A"


def keep(construct: Construct, logical_id: str) -> None:
    """Give the construct's CloudFormation resource this fixed logical id."""
    cfn_resource(construct).override_logical_id(logical_id)


def logical_id(construct: Construct) -> str:
    """The logical id the template will carry (fixed or derived), for cdk-nag finding ids."""
    resolved = cdk.Stack.of(construct).resolve(cfn_resource(construct).logical_id)
    assert isinstance(resolved, str)
    return resolved


def cfn_resource(construct: Construct) -> cdk.CfnResource:
    child = construct.node.default_child
    assert isinstance(child, cdk.CfnResource)
    return child
