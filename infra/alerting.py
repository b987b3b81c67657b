"""Where warnings go: the encrypted SNS topic (and its key) and the Slack webhook's secret."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra import logical_ids

# What SNS needs of the topic's key to accept a message (the L2 `grant_publish` asks for
# kms:GenerateDataKey*, a wildcard that also covers key pairs).
TOPIC_KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")


class Alerting(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, slack_secret_arn: str | None
    ) -> None:
        super().__init__(scope, construct_id)
        # A customer managed key: CloudWatch alarms cannot publish to a topic encrypted with the
        # AWS managed aws/sns key, whose policy cannot grant them.
        self.topic_key = kms.Key(
            self,
            "TopicKey",
            description="ipaudit: encrypts the warnings topic",
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        self.topic_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=list(TOPIC_KEY_ACTIONS),
                resources=["*"],  # in a key policy "*" means this key
                conditions={"StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID}},
            )
        )
        self.topic = sns.Topic(
            self,
            "Topic",
            display_name="ipaudit warnings",
            master_key=self.topic_key,
            enforce_ssl=True,
        )
        self.slack_secret = self._slack_secret(slack_secret_arn)
        logical_ids.keep(self.topic_key, logical_ids.TOPIC_KEY)
        logical_ids.keep(self.topic, logical_ids.TOPIC)

    def grant_notify(self, role: iam.Role) -> None:
        """Publish to the topic and read the Slack webhook URL."""
        self.topic.grants.actions(role, ["sns:Publish"], key_actions=list(TOPIC_KEY_ACTIONS))
        self.slack_secret.grant_read(role)

    def _slack_secret(self, arn: str | None) -> secretsmanager.ISecret:
        if arn is not None:
            return secretsmanager.Secret.from_secret_complete_arn(self, "SlackWebhook", arn)
        secret = secretsmanager.Secret(
            self,
            "SlackWebhook",
            description="ipaudit: the Slack incoming webhook URL (put the URL here yourself)",
            # Not a secret: a placeholder the user overwrites with put-secret-value.
            secret_string_value=cdk.SecretValue.unsafe_plain_text("not-configured"),
        )
        logical_ids.keep(secret, logical_ids.SLACK_SECRET)
        cdk.Validations.of(secret).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions::AwsSolutions-SMG4",
                reason="The Slack webhook URL is rotated in Slack, not by a Secrets Manager "
                "rotation Lambda; the user puts the new URL into the secret.",
            )
        )
        return secret
