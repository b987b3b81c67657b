"""describe_clusters: every cluster across ListClusters pages, with its node groups and add-on."""

from __future__ import annotations

from typing import Any

import pytest
from aws_stubs import stubbed_client
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from ipaudit.aws.eks import describe_clusters


def cluster(name: str) -> dict[str, Any]:
    return {
        "cluster": {
            "name": name,
            "arn": f"arn:aws:eks:eu-west-1:111111111111:cluster/{name}",
            "status": "ACTIVE",
            "endpoint": f"https://{name}.gr7.eu-west-1.eks.amazonaws.com",
            "certificateAuthority": {"data": "LS0tLS1CRUdJTg=="},
            "resourcesVpcConfig": {"vpcId": "vpc-1", "subnetIds": ["subnet-a", "subnet-b"]},
        }
    }


def nodegroup(name: str, subnet: str) -> dict[str, Any]:
    return {
        "nodegroup": {
            "nodegroupName": name,
            "clusterName": "blue",
            "subnets": [subnet],
            "resources": {"autoScalingGroups": [{"name": f"eks-{name}"}]},
        }
    }


def no_addon(stub: Stubber, name: str) -> None:
    stub.add_client_error(
        "describe_addon",
        service_error_code="ResourceNotFoundException",
        http_status_code=404,
        expected_params={"clusterName": name, "addonName": "vpc-cni"},
    )


def test_clusters_and_node_groups_are_followed_across_pages() -> None:
    eks = stubbed_client("eks")
    with Stubber(eks) as stub:
        stub.add_response("list_clusters", {"clusters": ["blue"], "nextToken": "c2"}, {})
        stub.add_response("list_clusters", {"clusters": ["green"]}, {"nextToken": "c2"})
        stub.add_response("describe_cluster", cluster("blue"), {"name": "blue"})
        stub.add_response(
            "list_nodegroups",
            {"nodegroups": ["ng-b"], "nextToken": "n2"},
            {"clusterName": "blue"},
        )
        stub.add_response(
            "list_nodegroups",
            {"nodegroups": ["ng-a"], "nextToken": "n3"},
            {"clusterName": "blue", "nextToken": "n2"},
        )
        stub.add_response(
            "list_nodegroups",
            {"nodegroups": ["ng-c"]},
            {"clusterName": "blue", "nextToken": "n3"},
        )
        for name, subnet in (("ng-a", "subnet-a"), ("ng-b", "subnet-b"), ("ng-c", "subnet-c")):
            stub.add_response(
                "describe_nodegroup",
                nodegroup(name, subnet),
                {"clusterName": "blue", "nodegroupName": name},
            )
        stub.add_response(
            "describe_addon",
            {"addon": {"addonName": "vpc-cni", "addonVersion": "v1.19.2-eksbuild.1"}},
            {"clusterName": "blue", "addonName": "vpc-cni"},
        )
        stub.add_response("describe_cluster", cluster("green"), {"name": "green"})
        stub.add_response("list_nodegroups", {"nodegroups": []}, {"clusterName": "green"})
        no_addon(stub, "green")
        blue, green = describe_clusters(eks)
        stub.assert_no_pending_responses()

    assert blue.name == "blue"
    assert blue.arn == "arn:aws:eks:eu-west-1:111111111111:cluster/blue"
    assert blue.vpc_id == "vpc-1"
    assert blue.subnet_ids == ("subnet-a", "subnet-b")
    assert blue.endpoint == "https://blue.gr7.eu-west-1.eks.amazonaws.com"
    assert blue.ca_data == "LS0tLS1CRUdJTg=="
    assert blue.status == "ACTIVE"
    assert blue.nodegroups == ("ng-a", "ng-b", "ng-c")
    # Where the node groups launch nodes, and their Auto Scaling groups (nodes found untagged).
    assert blue.nodegroup_subnet_ids == ("subnet-a", "subnet-b", "subnet-c")
    assert blue.nodegroup_asgs == ("eks-ng-a", "eks-ng-b", "eks-ng-c")
    assert blue.vpc_cni_addon == "v1.19.2-eksbuild.1"
    assert blue.vpc_cni_addon_configuration == ""  # a managed add-on with no configuration
    assert green.nodegroups == ()
    assert green.vpc_cni_addon is None  # aws-node is self-managed
    assert green.vpc_cni_addon_configuration is None


def test_the_add_on_configuration_values_are_kept_as_given() -> None:
    # YAML, exactly as the user gave it: the recommender must carry all of it over.
    values = 'env:\n  ENABLE_POD_ENI: "true"\nnodeAgent:\n  enablePolicyEventLogs: "true"\n'
    eks = stubbed_client("eks")
    with Stubber(eks) as stub:
        stub.add_response("list_clusters", {"clusters": ["blue"]}, {})
        stub.add_response("describe_cluster", cluster("blue"), {"name": "blue"})
        stub.add_response("list_nodegroups", {"nodegroups": []}, {"clusterName": "blue"})
        stub.add_response(
            "describe_addon",
            {
                "addon": {
                    "addonName": "vpc-cni",
                    "addonVersion": "v1.19.2-eksbuild.1",
                    "configurationValues": values,
                }
            },
            {"clusterName": "blue", "addonName": "vpc-cni"},
        )
        [blue] = describe_clusters(eks)
    assert blue.vpc_cni_addon == "v1.19.2-eksbuild.1"
    assert blue.vpc_cni_addon_configuration == values


def test_a_cluster_deleted_while_listing_is_skipped() -> None:
    eks = stubbed_client("eks")
    with Stubber(eks) as stub:
        stub.add_response("list_clusters", {"clusters": ["gone", "kept"]}, {})
        stub.add_client_error(
            "describe_cluster", service_error_code="ResourceNotFoundException", http_status_code=404
        )
        stub.add_response("describe_cluster", cluster("kept"), {"name": "kept"})
        stub.add_response("list_nodegroups", {"nodegroups": []}, {"clusterName": "kept"})
        no_addon(stub, "kept")
        assert [c.name for c in describe_clusters(eks)] == ["kept"]


def test_a_refused_add_on_lookup_is_not_taken_for_a_self_managed_cni() -> None:
    eks = stubbed_client("eks")
    with Stubber(eks) as stub:
        stub.add_response("list_clusters", {"clusters": ["blue"]}, {})
        stub.add_response("describe_cluster", cluster("blue"), {"name": "blue"})
        stub.add_response("list_nodegroups", {"nodegroups": []}, {"clusterName": "blue"})
        stub.add_client_error(
            "describe_addon", service_error_code="AccessDeniedException", http_status_code=403
        )
        with pytest.raises(ClientError, match="AccessDenied"):
            describe_clusters(eks)


def test_clusters_missing_their_vpc_id_get_it_from_one_subnet_lookup() -> None:
    # AWS always names the VPC; moto does not, and the demo runs on moto.
    def without_vpc(name: str, subnet: str) -> dict[str, Any]:
        described = cluster(name)
        described["cluster"]["resourcesVpcConfig"] = {"subnetIds": [subnet]}
        return described

    eks = stubbed_client("eks")
    ec2 = stubbed_client("ec2")
    with Stubber(eks) as eks_stub, Stubber(ec2) as ec2_stub:
        eks_stub.add_response("list_clusters", {"clusters": ["blue", "green"]}, {})
        for name, subnet in (("blue", "subnet-b"), ("green", "subnet-g")):
            eks_stub.add_response("describe_cluster", without_vpc(name, subnet), {"name": name})
            eks_stub.add_response("list_nodegroups", {"nodegroups": []}, {"clusterName": name})
            no_addon(eks_stub, name)
        ec2_stub.add_response(
            "describe_subnets",
            {
                "Subnets": [
                    {"SubnetId": "subnet-b", "VpcId": "vpc-blue", "CidrBlock": "10.0.0.0/24"},
                    {"SubnetId": "subnet-g", "VpcId": "vpc-green", "CidrBlock": "10.1.0.0/24"},
                ]
            },
            {"Filters": [{"Name": "subnet-id", "Values": ["subnet-b", "subnet-g"]}]},
        )
        blue, green = describe_clusters(eks, ec2)
        ec2_stub.assert_no_pending_responses()
    assert (blue.vpc_id, green.vpc_id) == ("vpc-blue", "vpc-green")
