"""A Kubernetes API that hangs, drips or answers malformed lists, and an AWS endpoint that hangs:
each costs only its own scope, within the deadline, and everything else is reported."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from faults.stand_ins import BrokenKubeApi, FaultyAws, node_list_items
from moto.ec2.models import ec2_backends

from ipaudit.audit import run_audit
from ipaudit.cli import main
from ipaudit.report import Report
from ipaudit.settings import Settings
from ipaudit_sim.article import OTHER_REGION, REGION
from ipaudit_sim.world import World

DEADLINE = 10.0
WHOLE_RUN = 30.0  # a whole `ipaudit audit --deadline` run, storing and notifying included
AWS_NODE = "/apis/apps/v1/namespaces/kube-system/daemonsets/aws-node"
# shape -> (the API's answers by path, the cluster's coverage error): what cannot be read is the
# cluster's coverage error, never a guess (a nameless node matches no pods; a DaemonSet with no
# aws-node container has no settings to read, not the defaults).
MALFORMED: dict[str, tuple[dict[str, Any], str]] = {
    "a node list of numbers": ({"/api/v1/nodes": node_list_items([1, 2, 3])}, ""),
    "a node whose metadata is null": (
        {"/api/v1/nodes": node_list_items([{"metadata": None, "spec": {}, "status": {}}])},
        "a node without metadata.name",
    ),
    "a DaemonSet without spec": (
        {
            AWS_NODE: {
                "kind": "DaemonSet",
                "apiVersion": "apps/v1",
                "metadata": {"name": "aws-node", "namespace": "kube-system"},
            }
        },
        "no aws-node container",
    ),
}


@pytest.fixture
def broken(request: pytest.FixtureRequest) -> Iterator[BrokenKubeApi]:
    api = BrokenKubeApi(request.param)
    yield api
    api.stop()


def audit_with_prod_at(world: World, url: str) -> Report:
    """Audit the organization with shop-prod's API at `url`, under the test's deadline."""
    env = dict(world.env)
    endpoints = [e.split("=", 1) for e in env["IPAUDIT_KUBE_ENDPOINTS"].split(",")]
    env["IPAUDIT_KUBE_ENDPOINTS"] = ",".join(
        f"{name}={url if name == 'shop-prod' else given}" for name, given in endpoints
    )
    return run_audit(
        Settings.from_env(env),
        boto3.Session(region_name=REGION),
        deadline=time.monotonic() + DEADLINE,
    )


def coverage(report: Report, cluster: str) -> tuple[str, str | None]:
    (entry,) = [c for c in report.coverage if c.cluster == cluster]
    return entry.status, entry.error


@pytest.mark.parametrize("broken", ["hang", "drip"], indirect=True)
def test_a_hung_or_dripping_api_is_its_clusters_coverage_error_within_the_deadline(
    world: World, broken: BrokenKubeApi
) -> None:
    report = audit_with_prod_at(world, broken.url)
    # Behaviour, not the wall clock: the cluster's collection was cut at its own bound.
    status, error = coverage(report, "shop-prod")
    assert status == "error" and "did not answer within" in (error or "")
    others = [c for c in report.coverage if c.cluster != "shop-prod"]
    assert others and all(c.status == "ok" for c in others)
    prod = next(c for c in report.clusters if c.name == "shop-prod")
    assert prod.subnets and prod.pods is None  # its EC2 view is still reported
    assert broken.requests  # it was asked


@pytest.mark.parametrize("shape", list(MALFORMED))
def test_a_malformed_answer_never_ends_the_run(
    world: World, shape: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    api = BrokenKubeApi("malformed")
    answers, expected = MALFORMED[shape]
    api.answers = answers
    try:
        report = audit_with_prod_at(world, api.url)
    finally:
        api.stop()
    status, error = coverage(report, "shop-prod")
    assert status == "error" and expected in (error or ""), (shape, error)
    others = [c for c in report.coverage if c.cluster != "shop-prod"]
    assert others and all(c.status == "ok" for c in others)
    assert {"shop-prod", "tools"} <= {c.name for c in report.clusters}
    # A handled failure is one line, never a traceback.
    assert not [r for r in caplog.records if r.exc_info], shape
    assert "Traceback" not in caplog.text


def test_a_hung_aws_endpoint_leaves_its_targets_not_audited_and_the_rest_reported(
    world: World, faulty_aws: FaultyAws, capsys: pytest.CaptureFixture[str]
) -> None:
    faulty_aws.hang = lambda service, region, body: service == "eks" and region == OTHER_REGION
    # A quarter of it is kept for storing and notifying: enough for a busy machine.
    code = main(["audit", "--output", "json", "--deadline", str(WHOLE_RUN)])
    out, err = capsys.readouterr()
    report = json.loads(out)

    # The run's own account of its time, not the test's clock: it stopped waiting at its
    # deadline; the margin is for a machine too busy to run it at once, never for waiting.
    (took,) = re.findall(rf"run took ([0-9.]+) s of its {WHOLE_RUN:g} s deadline", err)
    assert float(took) < 3 * WHOLE_RUN
    gaps = {(c["region"], c["error"]) for c in report["coverage"] if c["status"] == "error"}
    assert gaps == {(OTHER_REGION, "not audited: deadline")}
    assert {"shop-prod", "tools"} <= {c["name"] for c in report["clusters"]}
    assert code == 0  # stored and notified: a coverage gap is not a failure of the run


# (A null metadata is unit-tested: this stand-in API pages by metadata.name.)
ODD_PODS = [
    {
        "metadata": {"name": "ghost", "namespace": "shop", "resourceVersion": "1"},
        "spec": None,
        "status": {},
    },
    {
        "metadata": {"name": "limbo", "namespace": "shop", "resourceVersion": "1"},
        "spec": {},
        "status": None,
    },
]


def test_odd_shapes_are_counted_out_loud_in_coverage_notes_naming_them(world: World) -> None:
    """An ENI of an InterfaceType EC2 did not have, an in-use ENI without an attachment and
    pods with a null metadata, spec or status each change the numbers: each is named."""
    org = world.organization
    backend = ec2_backends[org.prod_account][REGION]
    in_prod = [e for e in backend.enis.values() if e.subnet.id in org.prod.subnet_ids]
    odd_type = in_prod[0]
    no_attachment = backend.create_network_interface(
        backend.get_subnet(org.prod.subnet_ids[0]), private_ip_address=None
    )
    saved = odd_type.interface_type
    pods = world.kube["shop-prod"].pods
    try:
        odd_type.interface_type = "quantum_widget"
        no_attachment.status = "in-use"
        pods.extend(ODD_PODS)
        report = run_audit(Settings.from_env(world.env), boto3.Session(region_name=REGION))
    finally:
        odd_type.interface_type = saved
        backend.delete_network_interface(no_attachment.id)
        del pods[-len(ODD_PODS) :]

    (prod,) = [c for c in report.coverage if c.cluster == "shop-prod"]
    assert prod.status == "ok"
    notes = "\n".join(prod.notes)
    assert f"ENI {odd_type.id} has an InterfaceType ipaudit does not know ('quantum_widget')" in (
        notes
    )
    assert f"ENI {no_attachment.id} is in use without an attachment" in notes
    assert (
        "2 pods left out of the pod counts, their metadata, spec or status null: "
        "shop/ghost (spec null), shop/limbo (status null)"
    ) in notes


def test_a_hung_sts_ends_the_run_at_its_deadline_in_one_line(
    world: World, faulty_aws: FaultyAws, capsys: pytest.CaptureFixture[str]
) -> None:
    """Listing the targets (GetCallerIdentity, ListAccounts) is bounded like the rest."""
    faulty_aws.hang = lambda service, region, body: service == "sts"
    code = main(["audit", "--output", "json", "--deadline", "4"])
    err = capsys.readouterr().err
    assert code == 1
    assert "deadline: the audit's targets (STS GetCallerIdentity" in err
    assert "Traceback" not in err
