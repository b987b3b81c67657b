"""The stand-in every integration test relies on: real boto3 over HTTP to a moto server."""

import boto3


def test_boto3_reaches_the_moto_server_through_aws_endpoint_url(aws: boto3.Session) -> None:
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]
    assert [v["VpcId"] for v in ec2.describe_vpcs(VpcIds=[vpc["VpcId"]])["Vpcs"]] == [vpc["VpcId"]]
