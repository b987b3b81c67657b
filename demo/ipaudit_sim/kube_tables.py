"""Table output (`meta.k8s.io/v1` Table): the columns `kubectl get` prints, rendered server-side.

kubectl asks for `Accept: application/json;as=Table;v=v1;g=meta.k8s.io` and prints the cells as
they come, so the columns and their wording are the real API server's printers' (pkg/printers
/internalversion): `-o wide` shows the priority-1 columns too. Each row carries the object as
`includeObject` asks (default: its metadata only), which is where `-A` reads the namespace.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

Obj = dict[str, Any]

TABLE_ACCEPT = "as=Table"
NONE = "<none>"


@dataclass(frozen=True)
class Column:
    name: str
    type: str = "string"
    description: str = ""
    priority: int = 0
    format: str = ""


_NAME = Column(
    "Name", format="name", description="Name must be unique within a namespace. Cannot be updated."
)
_AGE = Column(
    "Age",
    description="CreationTimestamp is a timestamp representing the server time when this object "
    "was created.",
)


def wants_table(accept: str | None) -> bool:
    """True when the client's first choice is a meta.k8s.io Table."""
    first = (accept or "").split(",")[0].replace(" ", "")
    return TABLE_ACCEPT in first.split(";") and "g=meta.k8s.io" in first.split(";")


def human_duration(seconds: float) -> str:
    """Age as kubectl shows it (apimachinery's duration.HumanDuration)."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m" if s % 60 == 0 else f"{minutes}m{s % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d" if hours % 24 == 0 else f"{hours // 24}d{hours % 24}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        years, days = hours // 24 // 365, hours // 24 % 365
        return f"{years}y" if days == 0 else f"{years}y{days}d"
    return f"{hours // 24 // 365}y"


def _since(timestamp: str | None, now: datetime) -> str:
    if not timestamp:
        return "<unknown>"
    moment = datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return human_duration((now - moment).total_seconds())


def _age(obj: Obj, now: datetime) -> str:
    return _since(obj["metadata"].get("creationTimestamp"), now)


def _labels(selector: dict[str, str] | None) -> str:
    return ",".join(f"{k}={v}" for k, v in (selector or {}).items()) or NONE


# --- one printer per kind -----------------------------------------------------------------


def _pod_status(pod: Obj) -> str:
    status = pod.get("status", {})
    reason = str(status.get("reason") or status.get("phase") or "Unknown")
    for container in status.get("containerStatuses") or []:
        state = container.get("state", {})
        waiting = state.get("waiting", {}).get("reason")
        terminated = state.get("terminated", {}).get("reason")
        reason = waiting or terminated or reason
    if pod["metadata"].get("deletionTimestamp"):
        reason = "Terminating"
    return reason


def _pod_cells(pod: Obj, now: datetime) -> list[Any]:
    spec, status = pod.get("spec", {}), pod.get("status", {})
    statuses = status.get("containerStatuses") or []
    ready = sum(1 for c in statuses if c.get("ready"))
    restarts = sum(int(c.get("restartCount", 0)) for c in statuses)
    gates = spec.get("readinessGates") or []
    return [
        pod["metadata"]["name"],
        f"{ready}/{len(spec.get('containers', []))}",
        _pod_status(pod),
        str(restarts),
        _age(pod, now),
        status.get("podIP") or NONE,
        spec.get("nodeName") or NONE,
        status.get("nominatedNodeName") or NONE,
        f"0/{len(gates)}" if gates else NONE,
    ]


def _node_status(node: Obj) -> str:
    conditions = {c["type"]: c["status"] for c in node.get("status", {}).get("conditions", [])}
    ready = conditions.get("Ready")
    status = "Ready" if ready == "True" else "NotReady" if ready == "False" else "Unknown"
    if node.get("spec", {}).get("unschedulable"):
        status += ",SchedulingDisabled"
    return status


def _node_cells(node: Obj, now: datetime) -> list[Any]:
    labels = node["metadata"].get("labels") or {}
    roles = sorted(
        key.removeprefix("node-role.kubernetes.io/")
        for key in labels
        if key.startswith("node-role.kubernetes.io/")
    )
    status = node.get("status", {})
    addresses = {a["type"]: a["address"] for a in status.get("addresses", [])}
    info = status.get("nodeInfo", {})
    return [
        node["metadata"]["name"],
        _node_status(node),
        ",".join(roles) or NONE,
        _age(node, now),
        info.get("kubeletVersion", ""),
        addresses.get("InternalIP", NONE),
        addresses.get("ExternalIP", NONE),
        info.get("osImage", "<unknown>"),
        info.get("kernelVersion", "<unknown>"),
        info.get("containerRuntimeVersion", "<unknown>"),
    ]


def _daemonset_cells(ds: Obj, now: datetime) -> list[Any]:
    status, template = ds.get("status", {}), ds["spec"]["template"]["spec"]
    containers = template.get("containers", [])
    return [
        ds["metadata"]["name"],
        int(status.get("desiredNumberScheduled", 0)),
        int(status.get("currentNumberScheduled", 0)),
        int(status.get("numberReady", 0)),
        int(status.get("updatedNumberScheduled", 0)),
        int(status.get("numberAvailable", 0)),
        _labels(template.get("nodeSelector")),
        _age(ds, now),
        ",".join(c["name"] for c in containers),
        ",".join(c.get("image", "") for c in containers),
        _labels(ds["spec"].get("selector", {}).get("matchLabels")),
    ]


def _event_cells(event: Obj, now: datetime) -> list[Any]:
    involved = event.get("involvedObject", {})
    source = event.get("source", {})
    last = event.get("lastTimestamp") or event.get("eventTime")
    return [
        _since(last, now),
        event.get("type", ""),
        event.get("reason", ""),
        f"{involved.get('kind', '').lower()}/{involved.get('name', '')}",
        involved.get("fieldPath", ""),
        ", ".join(v for v in (source.get("component"), source.get("host")) if v),
        event.get("message", ""),
        _since(event.get("firstTimestamp") or last, now),
        int(event.get("count") or 1),
        event["metadata"]["name"],
    ]


def _generic_cells(obj: Obj, _now: datetime) -> list[Any]:
    # A custom resource without printer columns: the raw timestamp, typed "date" for kubectl.
    return [obj["metadata"]["name"], obj["metadata"].get("creationTimestamp")]


@dataclass(frozen=True)
class _Printer:
    columns: Sequence[Column]
    cells: Callable[[Obj, datetime], list[Any]]


def _count(name: str, description: str) -> Column:
    return Column(name, "integer", description)


_PRINTERS = {
    "Pod": _Printer(
        [
            _NAME,
            Column(
                "Ready",
                description="The aggregate readiness state of this pod for accepting traffic.",
            ),
            Column("Status", description="The aggregate status of the containers in this pod."),
            Column(
                "Restarts",
                description="The number of times the containers in this pod have "
                "been restarted and when the last container in this pod has restarted.",
            ),
            _AGE,
            Column("IP", description="IP address allocated to the pod.", priority=1),
            Column("Node", description="Name of the Node this pod is running on.", priority=1),
            Column(
                "Nominated Node",
                description="Name of the Node nominated by the scheduler.",
                priority=1,
            ),
            Column("Readiness Gates", description="Pod's readiness gates.", priority=1),
        ],
        _pod_cells,
    ),
    "Node": _Printer(
        [
            _NAME,
            Column("Status", description="The status of the node"),
            Column("Roles", description="The roles of the node"),
            _AGE,
            Column("Version", description="Kubelet Version reported by the node."),
            Column("Internal-IP", description="List of internal IPs for the node.", priority=1),
            Column("External-IP", description="List of external IPs for the node.", priority=1),
            Column(
                "OS-Image",
                description="OS Image reported by the node from "
                "/etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).",
                priority=1,
            ),
            Column(
                "Kernel-Version",
                description="Kernel Version reported by the node from "
                "'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).",
                priority=1,
            ),
            Column(
                "Container-Runtime",
                description="Container runtime version reported by the "
                "node through runtime remote API (e.g. containerd://1.4.2).",
                priority=1,
            ),
        ],
        _node_cells,
    ),
    "DaemonSet": _Printer(
        [
            _NAME,
            _count("Desired", "The desired number of nodes that should be running the daemon pod."),
            _count("Current", "The number of nodes that are running at least 1 daemon pod."),
            _count(
                "Ready",
                "The number of nodes that should be running the daemon pod and have "
                "one or more of the daemon pod running and ready.",
            ),
            _count("Up-to-date", "The total number of nodes that are running updated daemon pod"),
            _count(
                "Available",
                "The number of nodes that should be running the daemon pod and "
                "have one or more of the daemon pod running and available.",
            ),
            Column(
                "Node Selector",
                description="NodeSelector is a selector which must be true "
                "for the pod to fit on a node.",
            ),
            _AGE,
            Column(
                "Containers", description="Names of each container in the template.", priority=1
            ),
            Column(
                "Images",
                description="Images referenced by each container in the template.",
                priority=1,
            ),
            Column(
                "Selector",
                description="A label query over pods that are managed by the daemon set.",
                priority=1,
            ),
        ],
        _daemonset_cells,
    ),
}
_PRINTERS["Event"] = _Printer(
    [
        Column("Last Seen", description="Time when this Event was last seen"),
        Column(
            "Type",
            description="Type of this event (Normal, Warning), new types could be "
            "added in the future.",
        ),
        Column(
            "Reason",
            description="This should be a short, machine understandable string "
            "that gives the reason for this event being generated.",
        ),
        Column("Object", description="The object that this event is about."),
        Column("Subobject", description="The subobject that this event is about.", priority=1),
        Column("Source", description="The component reporting this event.", priority=1),
        Column(
            "Message", description="A human-readable description of the status of this operation."
        ),
        Column("First Seen", description="Time when this Event was first seen", priority=1),
        Column("Count", "integer", "The number of times this event has occurred.", priority=1),
        Column("Name", format="name", description=_NAME.description, priority=1),
    ],
    _event_cells,
)
_GENERIC = _Printer([_NAME, Column("Age", "date", _AGE.description)], _generic_cells)


def _row_object(obj: Obj, include_object: str) -> Obj | None:
    if include_object == "None":
        return None
    if include_object == "Object":
        return obj
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj["metadata"],
    }


def as_table(body: Obj, *, include_object: str = "Metadata", now: datetime | None = None) -> Obj:
    """A list (`items`) or a single object rendered as the Table kubectl prints."""
    now = now or datetime.now(UTC)
    is_list = "items" in body
    objects: list[Obj] = body["items"] if is_list else [body]
    kind = body["kind"].removesuffix("List") if is_list else body["kind"]
    printer = _PRINTERS.get(kind, _GENERIC)
    rows = []
    for obj in objects:
        row: Obj = {"cells": printer.cells(obj, now)}
        included = _row_object(obj, include_object)
        if included is not None:
            row["object"] = included
        rows.append(row)
    # A list's paging (resourceVersion, continue, remainingItemCount) carries over as is.
    metadata = dict(body["metadata"]) if is_list else {}
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": [
            {
                "name": c.name,
                "type": c.type,
                "format": c.format,
                "description": c.description,
                "priority": c.priority,
            }
            for c in printer.columns
        ],
        "rows": rows,
    }
