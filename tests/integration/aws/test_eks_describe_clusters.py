"""describe_clusters against EKS as moto serves it over HTTP."""

from __future__ import annotations

import boto3

from ipaudit.aws.eks import describe_clusters
from ipaudit.aws.session import client_config


def test_a_cluster_and_its_node_group_are_described_with_their_network(
    aws: boto3.Session,
) -> None:
    ec2 = aws.client("ec2", config=client_config())
    eks = aws.client("eks", config=client_config())
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=az)["Subnet"]["SubnetId"]
        for cidr, az in (("10.0.0.0/22", "eu-west-1a"), ("10.0.4.0/22", "eu-west-1b"))
    ]
    created = eks.create_cluster(
        name="prod",
        roleArn="arn:aws:iam::123456789012:role/eks-cluster",
        resourcesVpcConfig={"subnetIds": subnets},
    )["cluster"]
    eks.create_nodegroup(
        clusterName="prod",
        nodegroupName="general",
        subnets=subnets,
        nodeRole="arn:aws:iam::123456789012:role/eks-node",
    )

    (cluster,) = describe_clusters(eks, ec2)

    assert cluster.name == "prod"
    assert cluster.arn == created["arn"]
    assert cluster.vpc_id == vpc  # moto omits vpcId; it comes from the subnets
    assert cluster.subnet_ids == tuple(subnets)
    assert cluster.endpoint == created["endpoint"]
    assert cluster.ca_data == created["certificateAuthority"]["data"]
    assert cluster.status == "ACTIVE"
    assert cluster.nodegroups == ("general",)
    # moto has no DescribeAddon: the cluster still comes back, as if aws-node were self-managed.
    assert cluster.vpc_cni_addon is None


def test_a_region_without_clusters_is_empty(aws: boto3.Session) -> None:
    assert describe_clusters(aws.client("eks", config=client_config())) == []
