"""(b) AWS calls per audit against their lower bound, and Kubernetes requests per cluster, with
a counting proxy in front of the moto server and the local Kubernetes API.

Lower bound (issue 12): per member account one AssumeRole; per target ListClusters and one
DescribeInstanceTypes; per cluster DescribeCluster and DescribeAddon; per VPC the three
describes' pages at 1000 items; plus the one GetCallerIdentity that tells who is auditing. Issue
8, 9 and 25 added reads whose answers the audit uses (node groups, subnet CIDR reservations, the
VPC's CIDR blocks; the two Network Address Usage quotas and the region's VPC peerings): they are
printed beside the bound, not hidden in it.
"""

from __future__ import annotations

import http.client
import os
import threading
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import boto3

from bench.collection import environment

REGIONS = ("eu-west-1", "us-east-1")
SIZES = (10, 100, 1000, 10)  # nodes of the clusters, one a target
PODS_PER_NODE = 27
ROLE = "IpAuditReadOnly"
# moto leaves vpcId out of DescribeCluster (AWS always names it), so ipaudit asks for the
# clusters' subnets by id to find their VPC: a call AWS never sees.
MOTO_ONLY = "DescribeSubnets by subnet-id (moto only)"


class CountingProxy:
    """Forwards every request to moto and counts AWS operations (not the Kubernetes API's own
    token checks, which EKS makes, not ipaudit)."""

    def __init__(self, upstream: str) -> None:
        self.counts: Counter[str] = Counter()
        self._upstream = urlsplit(upstream)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if not self.headers.get("x-k8s-aws-id"):
                    proxy.counts[_operation(self.path, self.headers, body)] += 1
                upstream = http.client.HTTPConnection(
                    proxy._upstream.hostname, proxy._upstream.port, timeout=60
                )
                upstream.request(self.command, self.path, body or None, dict(self.headers))
                answer = upstream.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                upstream.close()

            do_GET = do_POST = do_PUT = do_DELETE = _forward

            def log_message(self, *_: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _operation(path: str, headers: Any, body: bytes) -> str:
    target = headers.get("X-Amz-Target")
    if target:
        return str(target).rsplit(".", 1)[-1]
    params = dict(parse_qsl(body.decode(errors="replace") or urlsplit(path).query))
    if params.get("Action") == "DescribeSubnets" and params.get("Filter.1.Name") == "subnet-id":
        return MOTO_ONLY
    if "Action" in params:
        return params["Action"]
    parts = urlsplit(path).path.strip("/").split("/")  # EKS: REST paths
    if parts == ["clusters"]:
        return "ListClusters"
    if len(parts) == 2 and parts[0] == "clusters":
        return "DescribeCluster"
    if "addons" in parts:
        return "DescribeAddon"
    if "node-groups" in parts:
        return "ListNodegroups" if parts[-1] == "node-groups" else "DescribeNodegroup"
    return "/".join(parts[:2])


@dataclass
class Outcome:
    counts: Counter[str]
    bound: Counter[str]  # the lower bound
    read_since: Counter[str]  # reads issues 8, 9 and 25 added whose answers the audit uses
    kube_requests: dict[int, int]  # nodes -> requests for that cluster


def _seed(session: boto3.Session, name: str, nodes: int) -> tuple[list[str], str]:
    ec2 = session.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i * 64}.0/18", AvailabilityZone=az)[
            "Subnet"
        ]["SubnetId"]
        for i, az in enumerate(("a", "b", "c"))
        for az in [f"{session.region_name}{az}"]
    ]
    session.client("eks").create_cluster(
        name=name,
        roleArn="arn:aws:iam::123456789012:role/eks",
        resourcesVpcConfig={"subnetIds": subnets},
    )
    instances = ec2.run_instances(
        ImageId="ami-12c6146b",
        MinCount=nodes,
        MaxCount=nodes,
        InstanceType="m5.2xlarge",
        SubnetId=subnets[0],
        TagSpecifications=[
            {"ResourceType": "instance", "Tags": [{"Key": "eks:cluster-name", "Value": name}]}
        ],
    )["Instances"]
    return [i["InstanceId"] for i in instances], subnets[0]


def count_calls() -> Outcome:
    from ipaudit.audit.run import run_audit
    from ipaudit.settings import Settings
    from ipaudit_sim.aws import point_environment_at, running_moto
    from ipaudit_sim.kube_api import KubeApiServer, aws_node_daemonset, node_object, pod_object

    with ExitStack() as stack:
        stack.enter_context(environment())
        moto = stack.enter_context(running_moto())
        point_environment_at(moto.url, REGIONS[0])
        caller_session = boto3.Session(region_name=REGIONS[0])
        caller = caller_session.client("sts").get_caller_identity()["Account"]
        member = "210987654321"
        endpoints = []
        kube: dict[int, KubeApiServer] = {}
        targets = [(a, r) for a in (caller, member) for r in REGIONS]
        for index, ((account, region), nodes) in enumerate(zip(targets, SIZES, strict=True)):
            if account == caller:
                session = boto3.Session(region_name=region)
            else:
                keys = caller_session.client("sts").assume_role(
                    RoleArn=f"arn:aws:iam::{account}:role/{ROLE}", RoleSessionName="seed"
                )["Credentials"]
                session = boto3.Session(
                    aws_access_key_id=keys["AccessKeyId"],
                    aws_secret_access_key=keys["SecretAccessKey"],
                    aws_session_token=keys["SessionToken"],
                    region_name=region,
                )
            name = f"c{index}-{nodes}"
            instance_ids, _ = _seed(session, name, nodes)
            server = KubeApiServer(name, sts_endpoint=moto.url)
            server.nodes = [
                node_object(f"node-{n}", iid, f"{region}a", 58)
                for n, iid in enumerate(instance_ids)
            ]
            server.pods = [
                pod_object("shop", f"app-{n}-{p}", f"node-{n}", f"10.1.{n // 200}.{p}")
                for n in range(nodes)
                for p in range(PODS_PER_NODE)
            ]
            server.daemonsets = [aws_node_daemonset({"WARM_ENI_TARGET": "1"}, nodes=nodes)]
            endpoints.append(f"{name}={server.start()}")
            stack.callback(server.stop)
            kube[index] = server
        proxy = CountingProxy(moto.url)
        stack.callback(proxy.stop)
        os.environ["AWS_ENDPOINT_URL"] = proxy.url
        settings = Settings.from_env(
            {
                "IPAUDIT_ACCOUNTS": f"{caller},{member}",
                "IPAUDIT_REGIONS": ",".join(REGIONS),
                "IPAUDIT_KUBE_ENDPOINTS": ",".join(endpoints),
            }
        )
        report = run_audit(settings, boto3.Session(region_name=REGIONS[0]))
        assert all(c.status == "ok" for c in report.coverage), report.coverage
        pages = Counter[str]()
        for nodes in SIZES:
            pages["DescribeSubnets"] += 1
            pages["DescribeNetworkInterfaces"] += -(-nodes // 1000)
            pages["DescribeInstances"] += -(-nodes // 1000)
        bound = Counter(
            {
                "GetCallerIdentity": 1,
                "AssumeRole": 1,
                "ListClusters": len(targets),
                "DescribeInstanceTypes": len(targets),
                "DescribeCluster": len(targets),
                "DescribeAddon": len(targets),
                **pages,
            }
        )
        # Issue 8's reads: node groups (their subnets and Auto Scaling groups) per cluster, and
        # each used subnet's CIDR reservations (the API takes one subnet); issue 9's: the VPC's
        # CIDR blocks, where a structural fix's secondary block must not go; issue 25's: the
        # per-VPC and peered NAU quotas (one GetServiceQuota each) and the region's peerings.
        read_since = Counter(
            {
                "ListNodegroups": len(targets),
                "GetSubnetCidrReservations": 3 * len(targets),
                "DescribeVpcs": len(targets),
                "GetServiceQuota": 2 * len(targets),
                "DescribeVpcPeeringConnections": len(targets),
            }
        )
        return Outcome(
            counts=proxy.counts,
            bound=bound,
            read_since=read_since,
            kube_requests={SIZES[i]: len(server.requests) for i, server in kube.items()},
        )
