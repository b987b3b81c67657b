"""The whole simulated organization, running: moto over HTTP, one Kubernetes API per cluster.

`ipaudit demo` and the end-to-end tests audit this exactly as they would audit real AWS: the
product code only sees AWS_ENDPOINT_URL and IPAUDIT_KUBE_ENDPOINTS.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, MutableMapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import boto3

from ipaudit.settings import DEFAULT_ROLE_NAME
from ipaudit.sim.article import OTHER_REGION, REGION, ArticleOrganization, seed_article
from ipaudit.sim.aws import point_environment_at, running_moto
from ipaudit.sim.kube_api import KubeApiServer
from ipaudit.sim.seed import SeededCluster
from ipaudit.store.table import create_table

DEMO_TABLE = "ipaudit-demo"
DEMO_SENDER = "ipaudit@example.com"
DEMO_RECIPIENT = "platform-team@example.com"


@dataclass
class World:
    session: boto3.Session
    env: dict[str, str]  # the IPAUDIT_* settings that audit this world
    organization: ArticleOrganization
    kube: dict[str, KubeApiServer]


def _kube_server(cluster: SeededCluster, allowed_arns: list[str]) -> KubeApiServer:
    server = KubeApiServer(cluster.name, allowed_arns=allowed_arns)
    server.nodes = cluster.kube_nodes
    server.pods = cluster.kube_pods
    server.daemonsets = cluster.kube_daemonsets
    return server


@contextmanager
def article_world(env: MutableMapping[str, str] = os.environ) -> Iterator[World]:
    """Start and seed everything; `env` (the process environment by default) is pointed at it."""
    with ExitStack() as stack:
        moto = stack.enter_context(running_moto())
        point_environment_at(moto.url, REGION, env)
        session = boto3.Session(region_name=REGION)
        organization = seed_article(session)
        caller_arn = session.client("sts").get_caller_identity()["Arn"]
        auditor_role = f"arn:aws:iam::{organization.prod_account}:role/{DEFAULT_ROLE_NAME}"
        servers = {
            organization.prod.name: _kube_server(organization.prod, [auditor_role]),
            organization.tools.name: _kube_server(organization.tools, [caller_arn]),
        }
        endpoints = []
        for name, server in servers.items():
            endpoints.append(f"{name}={server.start()}")
            stack.callback(server.stop)
        create_table(session.client("dynamodb"), DEMO_TABLE)
        topic = session.client("sns").create_topic(Name="ipaudit-warnings")["TopicArn"]
        session.client("sesv2").create_email_identity(EmailIdentity=DEMO_SENDER)
        settings_env = {
            "IPAUDIT_ACCOUNTS": "organization",
            "IPAUDIT_REGIONS": f"{REGION},{OTHER_REGION}",
            "IPAUDIT_KUBE_ENDPOINTS": ",".join(endpoints),
            "IPAUDIT_TABLE": DEMO_TABLE,
            "IPAUDIT_SNS_TOPIC_ARN": topic,
            "IPAUDIT_EMAIL_FROM": DEMO_SENDER,
            "IPAUDIT_EMAIL_TO": DEMO_RECIPIENT,
        }
        yield World(session=session, env=settings_env, organization=organization, kube=servers)
