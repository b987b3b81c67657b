"""Table output: the columns and cells `kubectl get` prints, as the real API server renders them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ipaudit_sim.kube_api import (
    aws_node_daemonset,
    node_object,
    pod_object,
    sandbox_failure_event,
)
from ipaudit_sim.kube_tables import as_table, human_duration, wants_table

CREATED = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # the simulated objects' creationTimestamp


def columns(table: dict[str, Any], priority: int = 0) -> list[str]:
    return [c["name"] for c in table["columnDefinitions"] if c["priority"] <= priority]


def listing(kind: str, *items: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    return {"kind": f"{kind}List", "apiVersion": "v1", "metadata": metadata, "items": list(items)}


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (59, "59s"),
        (119, "119s"),
        (150, "2m30s"),
        (600, "10m"),
        (3 * 3600 + 300, "3h5m"),
        (30 * 3600, "30h"),
        (3 * 86400 + 7200, "3d2h"),
        (326 * 86400, "326d"),
        (3 * 365 * 86400 + 86400, "3y1d"),
    ],
)
def test_ages_read_like_kubectl(seconds: int, shown: str) -> None:
    assert human_duration(seconds) == shown


def test_only_a_client_asking_for_a_table_first_gets_one() -> None:
    assert wants_table("application/json;as=Table;v=v1;g=meta.k8s.io,application/json")
    assert not wants_table("application/json")
    assert not wants_table(None)
    assert not wants_table("application/json, application/json;as=Table;v=v1;g=meta.k8s.io")


def test_pods_show_ready_status_restarts_age_and_wide_ip_and_node() -> None:
    pods = listing(
        "Pod",
        pod_object("default", "web-1", "node-a", "10.0.0.21"),
        pod_object("batch", "report", "node-a", None, phase="Succeeded"),
        pod_object("default", "queued", None, None, phase="Pending"),
    )

    table = as_table(pods, now=CREATED + timedelta(days=3))

    assert (table["kind"], table["apiVersion"]) == ("Table", "meta.k8s.io/v1")
    assert columns(table) == ["Name", "Ready", "Status", "Restarts", "Age"]
    assert columns(table, priority=1)[5:] == ["IP", "Node", "Nominated Node", "Readiness Gates"]
    cells = [row["cells"][:7] for row in table["rows"]]
    assert cells == [
        ["web-1", "1/1", "Running", "0", "3d", "10.0.0.21", "node-a"],
        ["report", "0/1", "Completed", "0", "3d", "<none>", "node-a"],
        ["queued", "0/1", "Pending", "0", "3d", "<none>", "<none>"],
    ]


def test_nodes_show_status_version_and_wide_addresses_and_os() -> None:
    node = node_object(
        "ip-10-0-0-4.internal",
        "i-0abc",
        "eu-west-1a",
        234,
        internal_ip="10.0.0.4",
        unschedulable=True,
    )

    table = as_table(listing("Node", node), now=CREATED + timedelta(hours=5))

    assert columns(table) == ["Name", "Status", "Roles", "Age", "Version"]
    assert columns(table, priority=1)[5:] == [
        "Internal-IP",
        "External-IP",
        "OS-Image",
        "Kernel-Version",
        "Container-Runtime",
    ]
    [row] = table["rows"]
    assert row["cells"][:7] == [
        "ip-10-0-0-4.internal",
        "Ready,SchedulingDisabled",
        "<none>",
        "5h",
        "v1.31.4-eks-aeac579",
        "10.0.0.4",
        "<none>",
    ]


def test_daemonsets_show_their_counts_and_wide_images_and_selector() -> None:
    table = as_table(listing("DaemonSet", aws_node_daemonset({}, nodes=20)), now=CREATED)

    assert columns(table) == [
        "Name",
        "Desired",
        "Current",
        "Ready",
        "Up-to-date",
        "Available",
        "Node Selector",
        "Age",
    ]
    [row] = table["rows"]
    assert row["cells"][:8] == ["aws-node", 20, 20, 20, 20, 20, "<none>", "0s"]
    assert row["cells"][8] == "aws-node"
    assert row["cells"][9].endswith("amazon-k8s-cni:v1.19.2")
    assert row["cells"][10] == "k8s-app=aws-node"


def test_rows_carry_the_metadata_kubectl_reads_the_namespace_from() -> None:
    pod = pod_object("kube-system", "aws-node-0", "node-a", "10.0.0.4", host_network=True)

    [row] = as_table(listing("Pod", pod))["rows"]
    [bare] = as_table(listing("Pod", pod), include_object="None")["rows"]
    [whole] = as_table(listing("Pod", pod), include_object="Object")["rows"]

    assert row["object"]["kind"] == "PartialObjectMetadata"
    assert row["object"]["metadata"]["namespace"] == "kube-system"
    assert "object" not in bare
    assert whole["object"] == pod


def test_a_page_keeps_its_continue_token_and_a_single_object_is_one_row() -> None:
    page = listing(
        "Pod",
        pod_object("default", "a", "n", "10.0.0.1"),
        resourceVersion="7",
        **{"continue": "abc", "remainingItemCount": 4},
    )

    table = as_table(page)
    single = as_table(pod_object("default", "a", "n", "10.0.0.1"))

    assert table["metadata"] == {"resourceVersion": "7", "continue": "abc", "remainingItemCount": 4}
    assert [row["cells"][0] for row in single["rows"]] == ["a"]


def test_a_custom_resource_without_printer_columns_shows_name_and_age() -> None:
    eni_config = {
        "apiVersion": "crd.k8s.amazonaws.com/v1alpha1",
        "kind": "ENIConfig",
        "metadata": {"name": "eu-west-1a", "creationTimestamp": "2026-01-05T09:00:00Z"},
        "spec": {"subnet": "subnet-1"},
    }

    table = as_table({**listing("ENIConfig", eni_config), "apiVersion": eni_config["apiVersion"]})

    assert [(c["name"], c["type"]) for c in table["columnDefinitions"]] == [
        ("Name", "string"),
        ("Age", "date"),  # kubectl turns a date column into an age
    ]
    assert table["rows"][0]["cells"] == ["eu-west-1a", "2026-01-05T09:00:00Z"]


def test_events_show_when_what_and_why_like_kubectl_get_events() -> None:
    event = sandbox_failure_event(
        "payments", "checkout-1", "ip-10-0-0-4.internal", last_seen="2026-01-05T09:00:00Z", count=3
    )

    table = as_table(listing("Event", event), now=CREATED + timedelta(minutes=5))

    assert columns(table) == ["Last Seen", "Type", "Reason", "Object", "Message"]
    [row] = table["rows"]
    last_seen, kind, reason, involved, _, source, message, _, count, _ = row["cells"]
    assert (last_seen, kind, reason, involved) == (
        "5m",
        "Warning",
        "FailedCreatePodSandBox",
        "pod/checkout-1",
    )
    assert (source, count) == ("kubelet, ip-10-0-0-4.internal", 3)
    assert "failed to assign an IP address to container" in message
