"""The organization ipaudit was born from (docs/design.md, "The problem, in numbers").

Account `prod` runs cluster `shop-prod` on three private /22 subnets (1019 usable addresses each)
with m5.8xlarge nodes (8 ENIs x 30 addresses) under the VPC CNI defaults (WARM_ENI_TARGET=1):

- 8 busy nodes run 110 pods each: 4 ENIs for the pods plus 1 warm ENI = 5 ENIs, 150 addresses.
- 10 nodes once ran ~100 pods and now run 10, spread over all 5 ENIs: none can be released,
  so each still holds 150 addresses for 10 pods.
- 2 nodes, one in each exhausted subnet, could not fill their fourth ENI (119 addresses); the
  pods scheduled on them beyond that stay Pending, and kubelet records the article's error for
  each: FailedCreatePodSandBox, `failed to assign an IP address to container`.

That is 1200 pods holding 2938 addresses: subnets a and b have 0 free, subnet c has 109 left
after a leaked CNI ENI. The 20 nodes are managed node group `shop-prod-nodes` (an Auto Scaling
group over the three subnets, MaxSize 30): a new m5.8xlarge takes 30 addresses at start-up, so
eu-west-1a and eu-west-1b cannot start one and eu-west-1c only 3 (109 // 30). The management
account runs a small, healthy `tools` cluster.

Beside the article, `prod` also runs the shapes platform teams run (each address attributed):
cluster `payments` uses security groups for pods (a trunk and branch ENIs), an internal load
balancer and a Fargate profile; cluster `batch` shares payments' second subnet. Cluster `search`
runs VPC CNI v1.19 with subnet discovery (its default): its eu-west-1a node subnet is full, and
the 100.64.0.0/22 subnet its team tagged `kubernetes.io/role/cni=1` carries the pods there.
"""

from __future__ import annotations

from dataclasses import dataclass

import boto3

from ipaudit_sim.seed import NodeSpec, SeededCluster, SubnetSpec, add_node_group, seed_cluster
from ipaudit_sim.shapes import add_fargate_pods, add_security_groups_for_pods, add_service_enis

REGION = "eu-west-1"
OTHER_REGION = "us-east-1"  # audited too: nothing runs there
FULL = (30, 30, 30, 30, 30)  # 5 ENIs x 30 addresses
PARTIAL = (30, 30, 30, 29)  # the fourth ENI got only 29 before the subnet ran dry
BUSY_PODS = 110
CHURNED_PODS = 10
STARVED_PODS = 3  # per partially filled node: scheduled, no address to be had
NODE_GROUP = "shop-prod-nodes"
NODE_TYPE = "m5.8xlarge"
NODE_GROUP_MAX = 30


@dataclass
class ArticleOrganization:
    management_account: str
    prod_account: str
    prod: SeededCluster
    tools: SeededCluster
    payments: SeededCluster
    batch: SeededCluster
    search: SeededCluster


def _prod_nodes() -> list[NodeSpec]:
    nodes = []
    # subnet a and b: 6 full nodes and one partial; subnet c: 6 full nodes.
    churned_per_subnet = (4, 3, 3)
    for subnet, churned in enumerate(churned_per_subnet):
        for slot in range(6):
            pods = CHURNED_PODS if slot < churned else BUSY_PODS
            nodes.append(NodeSpec(subnet=subnet, eni_addresses=FULL, pods=pods, finished_pods=1))
        if subnet < 2:
            nodes.append(
                NodeSpec(
                    subnet=subnet,
                    eni_addresses=PARTIAL,
                    pods=BUSY_PODS,
                    pending_pods=STARVED_PODS,
                )
            )
    return nodes


def seed_article(management: boto3.Session) -> ArticleOrganization:
    """Create the organization, its `prod` account and both clusters in moto."""
    organizations = management.client("organizations")
    organizations.create_organization(FeatureSet="ALL")
    management_account = management.client("sts").get_caller_identity()["Account"]
    created = organizations.create_account(Email="prod@example.com", AccountName="prod")
    prod_account = created["CreateAccountStatus"]["AccountId"]
    credentials = management.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{prod_account}:role/OrganizationAccountAccessRole",
        RoleSessionName="seed",
    )["Credentials"]
    prod_session = boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=REGION,
    )
    prod = seed_cluster(
        prod_session,
        name="shop-prod",
        vpc_cidr="10.0.0.0/16",
        subnets=[
            SubnetSpec("10.0.0.0/22", f"{REGION}a"),
            SubnetSpec("10.0.4.0/22", f"{REGION}b"),
            SubnetSpec("10.0.8.0/22", f"{REGION}c"),
        ],
        nodes=_prod_nodes(),
        leaked_enis=[(2, 10)],
    )
    add_node_group(
        prod_session, prod, NODE_GROUP, instance_type="m5.8xlarge", max_size=NODE_GROUP_MAX
    )
    tools = seed_cluster(
        management,
        name="tools",
        vpc_cidr="10.1.0.0/16",
        subnets=[SubnetSpec("10.1.0.0/24", f"{REGION}a"), SubnetSpec("10.1.1.0/24", f"{REGION}b")],
        nodes=[
            NodeSpec(subnet=0, eni_addresses=(10, 10), pods=5, instance_type="m5.large"),
            NodeSpec(subnet=1, eni_addresses=(10, 10), pods=5, instance_type="m5.large"),
        ],
    )
    payments, batch = seed_shapes(prod_session)
    search = seed_discovery(prod_session)
    return ArticleOrganization(
        management_account=management_account,
        prod_account=prod_account,
        prod=prod,
        tools=tools,
        payments=payments,
        batch=batch,
        search=search,
    )


def seed_shapes(session: boto3.Session) -> tuple[SeededCluster, SeededCluster]:
    """`payments`: one m5.large with 12 pods on its addresses and 4 on branch ENIs, an internal
    ALB's 2 ENIs and 3 Fargate pods; `batch`: one m5.large with 6 pods in payments' subnet b."""
    subnets = [SubnetSpec("10.2.0.0/24", f"{REGION}a"), SubnetSpec("10.2.1.0/24", f"{REGION}b")]
    payments = seed_cluster(
        session,
        name="payments",
        vpc_cidr="10.2.0.0/16",
        subnets=subnets,
        nodes=[NodeSpec(subnet=0, eni_addresses=(10, 10), pods=12, instance_type="m5.large")],
        cni_env={"ENABLE_POD_ENI": "true"},
        subnet_tags={0: {"kubernetes.io/role/internal-elb": "1"}},
    )
    add_security_groups_for_pods(session, payments, node=0, subnet=0, branch_pods=4, trunk_device=2)
    add_service_enis(
        session, payments, 0, [("ELB app/k8s-payments-web/6e3f1c2d", "interface", 1)] * 2
    )
    add_fargate_pods(session, payments, 1, f"{REGION}b", 3)
    batch = seed_cluster(
        session,
        name="batch",
        vpc_cidr="",
        subnets=subnets,
        nodes=[NodeSpec(subnet=1, eni_addresses=(10,), pods=6, instance_type="m5.large")],
        config_subnets=[1],
        sharing=payments,
    )
    return payments, batch


def seed_discovery(session: boto3.Session) -> SeededCluster:
    """`search`: 12 m5.large nodes in eu-west-1a's /24, each with 2 ENIs of 10 there and a third
    of 10 in the tagged 100.64.0.0/22 (1019 usable), 27 pods each; an internal load balancer's
    11 addresses take the /24's last ones (251 - 240 - 11 = 0 free; 1019 - 120 = 899 in the
    tagged one). Two nodes in eu-west-1b, 2 ENIs of 10 and 12 pods each, have room."""
    search = seed_cluster(
        session,
        name="search",
        vpc_cidr="10.3.0.0/16",
        extra_cidrs=["100.64.0.0/16"],
        subnets=[
            SubnetSpec("10.3.0.0/24", f"{REGION}a"),
            SubnetSpec("10.3.1.0/24", f"{REGION}b"),
            SubnetSpec("100.64.0.0/22", f"{REGION}a"),
        ],
        nodes=[
            *(
                NodeSpec(
                    subnet=0,
                    eni_addresses=(10, 10, 10),
                    eni_subnets=(0, 2),
                    pods=27,
                    instance_type="m5.large",
                )
                for _ in range(12)
            ),
            *(
                NodeSpec(subnet=1, eni_addresses=(10, 10), pods=12, instance_type="m5.large")
                for _ in range(2)
            ),
        ],
        config_subnets=[0, 1],
        subnet_tags={
            0: {"kubernetes.io/role/internal-elb": "1"},
            2: {"kubernetes.io/role/cni": "1"},
        },
    )
    add_service_enis(session, search, 0, [("ELB app/k8s-search-api/0b7c9a1e", "interface", 1)] * 11)
    return search
