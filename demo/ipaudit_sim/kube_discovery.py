"""API discovery: the documents kubectl reads before any `get` to learn what a server serves.

`/api` (the core versions), `/apis` (every group), `/apis/GROUP` and one resource list per
group version (`/api/v1`, `/apis/apps/v1`, ...). They are derived from the resources the local
server actually serves, so a resource added there is discoverable without touching this module.
kubectl also asks for aggregated discovery (`apidiscovery.k8s.io/v2`); a server that answers with
plain `application/json` gets the legacy documents read instead, as older servers do.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]

# What `kubectl get po` and `kubectl get all` resolve through; the real server's values.
_SHORT_NAMES = {
    "nodes": ["no"],
    "pods": ["po"],
    "daemonsets": ["ds"],
    "events": ["ev"],
    "namespaces": ["ns"],
}
_CATEGORIES = {"pods": ["all"], "daemonsets": ["all"]}
_VERBS = ["get", "list"]  # this server only reads


@dataclass(frozen=True)
class Served:
    """One resource as discovery describes it."""

    api_version: str  # "v1" for the core group, "GROUP/VERSION" otherwise
    plural: str
    kind: str
    namespaced: bool


def _version(group_version: str) -> Obj:
    return {"groupVersion": group_version, "version": group_version.rsplit("/", 1)[-1]}


def _group(name: str, group_versions: list[str]) -> Obj:
    versions = [_version(gv) for gv in group_versions]
    return {"name": name, "versions": versions, "preferredVersion": versions[0]}


def _groups(served: Iterable[Served]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for resource in served:
        if "/" in resource.api_version:
            name = resource.api_version.split("/")[0]
            versions = groups.setdefault(name, [])
            if resource.api_version not in versions:
                versions.append(resource.api_version)
    return dict(sorted(groups.items()))


def _resource(resource: Served) -> Obj:
    entry: Obj = {
        "name": resource.plural,
        "singularName": resource.kind.lower(),
        "namespaced": resource.namespaced,
        "kind": resource.kind,
        "verbs": _VERBS,
    }
    if resource.plural in _SHORT_NAMES:
        entry["shortNames"] = _SHORT_NAMES[resource.plural]
    if resource.plural in _CATEGORIES:
        entry["categories"] = _CATEGORIES[resource.plural]
    return entry


def discovery_document(path: str, served: Iterable[Served], server_address: str) -> Obj | None:
    """The discovery document at `path` ("/api", "/apis/apps/v1", ...), None if there is none.

    `server_address` is the host:port clients reach the server on.
    """
    served = list(served)
    parts = [p for p in path.split("/") if p]
    if parts == ["api"]:
        return {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
            ],
        }
    if parts == ["apis"]:
        return {
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [_group(name, versions) for name, versions in _groups(served).items()],
        }
    if len(parts) == 2 and parts[0] == "apis" and parts[1] in _groups(served):
        return {
            "kind": "APIGroup",
            "apiVersion": "v1",
            **_group(parts[1], _groups(served)[parts[1]]),
        }
    group_version = None
    if parts == ["api", "v1"]:
        group_version = "v1"
    elif len(parts) == 3 and parts[0] == "apis":
        group_version = f"{parts[1]}/{parts[2]}"
    resources = [_resource(r) for r in served if r.api_version == group_version]
    if not resources:
        return None
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": sorted(resources, key=lambda r: str(r["name"])),
    }
