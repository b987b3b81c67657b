"""The structural fix as commands to paste, in order: a secondary CIDR of 100.64.0.0/10 that
fits the VPC, one pod subnet per zone, one ENIConfig per zone, the aws-node settings, and the
node roll that puts new nodes on custom networking (pure)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ipaudit.recommend.secondary_cidr import plan_secondary_cidr
from ipaudit.report import ClusterReport


@dataclass(frozen=True)
class StructuralPlan:
    command: str  # a shell script, one step a line
    summary: str  # what it does, for the rationale


def structural_commands(
    cluster: ClusterReport,
    addresses_by_zone: Mapping[str, int],
    *,
    aws_node: str | None,
    roll: bool,
    nodes: Sequence[tuple[str | None, str]],
) -> StructuralPlan:
    """`aws_node`: the command that sets aws-node's settings (None: nothing to set); `roll`:
    whether the nodes must be replaced to take custom networking; `nodes`: (name, instance)."""
    plan = plan_secondary_cidr(cluster.vpc_cidrs, addresses_by_zone)
    region = shlex.quote(cluster.region)
    vpc = shlex.quote(cluster.vpc_id)
    if plan is None:
        lines = [aws_node] if aws_node else []
        return StructuralPlan(
            "\n".join(lines),
            "The VPC already holds all of 100.64.0.0/10: give the pods larger subnets from "
            "another range the network can route.",
        )
    lines = [
        f"aws ec2 associate-vpc-cidr-block --region {region} --vpc-id {vpc} "
        f"--cidr-block {plan.block}"
    ]
    configs = []
    for subnet in plan.subnets:
        variable = _variable(subnet.az)
        lines.append(
            f"{variable}=$(aws ec2 create-subnet --region {region} --vpc-id {vpc} "
            f"--availability-zone {shlex.quote(subnet.az)} --cidr-block {subnet.cidr} "
            f"--query Subnet.SubnetId --output text)"
        )
        configs.append(
            "apiVersion: crd.k8s.amazonaws.com/v1alpha1\n"
            "kind: ENIConfig\n"
            "metadata:\n"
            f"  name: {subnet.az}\n"
            "spec:\n"
            f"  subnet: ${variable}"
        )
    lines.append("kubectl apply -f - <<EOF\n" + "\n---\n".join(configs) + "\nEOF")
    if aws_node:
        lines.append(aws_node)
    if roll:
        lines.append(
            "# Replace the nodes one at a time, waiting for each replacement (from its node "
            "group or Karpenter) to be Ready:"
        )
        for name, instance_id in nodes:
            terminate = (
                f"aws ec2 terminate-instances --region {region} "
                f"--instance-ids {shlex.quote(instance_id)}"
            )
            if name:
                drain = (
                    f"kubectl drain {shlex.quote(name)} --ignore-daemonsets --delete-emptydir-data"
                )
                lines.append(f"{drain} && {terminate}")
            else:
                lines.append(terminate)
    zones = ", ".join(f"{s.az} {s.cidr}" for s in plan.subnets)
    size = (
        f"each {plan.subnets[0].usable} addresses, twice what the busiest zone's pods draw "
        f"({plan.needed_per_zone // 2})"
        if plan.fits
        else f"each {plan.subnets[0].usable} addresses, short of the "
        f"{plan.needed_per_zone} the busiest zone needs with room to double: add a further "
        f"block of 100.64.0.0/10 for it"
    )
    held = "" if not cluster.vpc_cidrs else f" (the VPC holds {', '.join(cluster.vpc_cidrs)})"
    return StructuralPlan(
        "\n".join(lines),
        f"Associate {plan.block}, a block of 100.64.0.0/10 the VPC does not use{held}, create "
        f"a pod subnet per zone ({zones}; {size}) and an ENIConfig named after each zone"
        + (", set aws-node's custom networking settings" if aws_node else "")
        + (" and replace the nodes." if roll else "."),
    )


def _variable(zone: str) -> str:
    return "SUBNET_" + re.sub(r"[^A-Za-z0-9]", "_", zone).upper()


def upgrade_commands(cluster: ClusterReport) -> list[str]:
    """aws-node to the newest version EKS offers for the cluster's Kubernetes version: the
    managed add-on with update-addon (its configuration preserved), a self-managed aws-node by
    the release manifest of that version."""
    region = shlex.quote(cluster.region)
    name = shlex.quote(cluster.name)
    k8s = (
        f"$(aws eks describe-cluster --region {region} --name {name} "
        f"--query cluster.version --output text)"
    )
    lines = [
        f"VPC_CNI=$(aws eks describe-addon-versions --region {region} --addon-name vpc-cni "
        f"--kubernetes-version {k8s} --query 'addons[0].addonVersions[0].addonVersion' "
        f"--output text)"
    ]
    if cluster.vpc_cni_addon is not None:
        lines.append(
            f"aws eks update-addon --region {region} --cluster-name {name} --addon-name vpc-cni "
            f"--addon-version $VPC_CNI --resolve-conflicts PRESERVE"
        )
    else:
        lines.append(
            "kubectl apply -f https://raw.githubusercontent.com/aws/amazon-vpc-cni-k8s/"
            "${VPC_CNI%%-*}/config/master/aws-k8s-cni.yaml  # self-managed aws-node: keep your "
            "env changes"
        )
    return lines
