"""The whole simulated organization, running: moto over HTTP, one Kubernetes API per cluster.

`ipaudit demo` and the end-to-end tests audit this exactly as they would audit real AWS: the
product code only sees AWS_ENDPOINT_URL and IPAUDIT_KUBE_ENDPOINTS. AWS_ENDPOINT_URL is the
EKS proxy in front of moto, so the EKS answers moto lacks (add-ons and their errors) come as
EKS's. Each cluster's API serves https with a certificate its own CA signed, and DescribeCluster
answers with that endpoint and CA, as EKS does.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import boto3
from moto.eks.models import eks_backends

from ipaudit.settings import DEFAULT_ROLE_NAME
from ipaudit.store.table import create_table
from ipaudit_sim.article import OTHER_REGION, REGION, ArticleOrganization, seed_article
from ipaudit_sim.aws import point_environment_at, running_moto
from ipaudit_sim.eks_proxy import EksProxy
from ipaudit_sim.kube_api import KubeApiServer
from ipaudit_sim.seed import SeededCluster
from ipaudit_sim.tls import cluster_certificates

DEMO_TABLE = "ipaudit-demo"
DEMO_SENDER = "ipaudit@example.com"
DEMO_RECIPIENT = "platform-team@example.com"


@dataclass(frozen=True)
class KubeAccess:
    """How one simulated cluster is reached: its API, its CA and who may read it."""

    account_id: str
    server: str
    ca_data: str  # base64 PEM, as DescribeCluster returns it
    role_arn: str | None  # the role a reader assumes first; None: the caller's own identity


@dataclass
class World:
    session: boto3.Session
    env: dict[str, str]  # the IPAUDIT_* settings that audit this world
    organization: ArticleOrganization
    kube: dict[str, KubeApiServer]
    access: dict[str, KubeAccess]  # by cluster name
    aws_endpoint: str


def _kube_server(cluster: SeededCluster, allowed_arns: list[str]) -> tuple[KubeApiServer, str]:
    certificates = cluster_certificates(cluster.name)
    server = KubeApiServer(cluster.name, allowed_arns=allowed_arns, tls=certificates.server_context)
    server.nodes = cluster.kube_nodes
    server.pods = cluster.kube_pods
    server.daemonsets = cluster.kube_daemonsets
    server.events = cluster.kube_events
    server.eni_configs = cluster.eni_configs
    return server, certificates.ca_data


def _publish(account_id: str, name: str, endpoint: str, ca_data: str) -> None:
    # moto's CreateCluster makes up an endpoint and random CA data and no API sets them:
    # its backend, in this process, can (shared/domain/toolchain.md).
    cluster = eks_backends[account_id][REGION].clusters[name]
    cluster.endpoint = endpoint
    cluster.certificate_authority = {"data": ca_data}


@contextmanager
def article_world(
    env: MutableMapping[str, str] = os.environ, progress: Callable[[str], None] | None = None
) -> Iterator[World]:
    """Start and seed everything; `env` (the process environment by default) is pointed at it.
    `progress` hears what is being done while it starts (it takes a while: moto loads its
    data on the first EC2 call)."""
    say = progress or (lambda _message: None)
    with ExitStack() as stack:
        say("starting the simulated AWS (a moto server on loopback)")
        moto = stack.enter_context(running_moto())
        proxy = EksProxy(moto.url)
        aws_endpoint = proxy.start()
        stack.callback(proxy.stop)
        point_environment_at(aws_endpoint, REGION, env)
        session = boto3.Session(region_name=REGION)
        say("seeding the organization: 3 accounts, 5 EKS clusters, their VPCs, nodes and ENIs")
        organization = seed_article(session)
        caller_arn = session.client("sts").get_caller_identity()["Arn"]
        auditor_role = f"arn:aws:iam::{organization.prod_account}:role/{DEFAULT_ROLE_NAME}"
        clusters = [
            (organization.prod, organization.prod_account, auditor_role),
            (organization.tools, organization.management_account, None),
            (organization.payments, organization.prod_account, auditor_role),
            (organization.batch, organization.prod_account, auditor_role),
            (organization.search, organization.prod_account, auditor_role),
        ]
        say(f"starting {len(clusters)} Kubernetes API servers (one per cluster)")
        servers: dict[str, KubeApiServer] = {}
        access: dict[str, KubeAccess] = {}
        endpoints = []
        for cluster, account_id, role in clusters:
            server, ca_data = _kube_server(cluster, [role or caller_arn])
            servers[cluster.name] = server
            url = server.start()
            stack.callback(server.stop)
            _publish(account_id, cluster.name, url, ca_data)
            access[cluster.name] = KubeAccess(account_id, url, ca_data, role)
            endpoints.append(f"{cluster.name}={url}")
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
        yield World(
            session=session,
            env=settings_env,
            organization=organization,
            kube=servers,
            access=access,
            aws_endpoint=aws_endpoint,
        )
