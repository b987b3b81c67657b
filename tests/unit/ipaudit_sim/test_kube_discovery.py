"""Discovery documents describe exactly what the server serves, in the shapes kubectl reads."""

from __future__ import annotations

from ipaudit_sim.kube_discovery import Served, discovery_document

SERVED = [
    Served("v1", "pods", "Pod", True),
    Served("v1", "nodes", "Node", False),
    Served("apps/v1", "daemonsets", "DaemonSet", True),
    Served("crd.k8s.amazonaws.com/v1alpha1", "eniconfigs", "ENIConfig", False),
]


def document(path: str) -> dict[str, object] | None:
    return discovery_document(path, SERVED, "127.0.0.1:6443")


def test_api_lists_the_core_version_and_where_to_reach_it() -> None:
    assert document("/api") == {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}
        ],
    }


def test_apis_lists_every_served_group_with_its_preferred_version() -> None:
    body = document("/apis")
    assert body is not None and body["kind"] == "APIGroupList"
    groups = {g["name"]: g["preferredVersion"]["groupVersion"] for g in body["groups"]}
    assert groups == {"apps": "apps/v1", "crd.k8s.amazonaws.com": "crd.k8s.amazonaws.com/v1alpha1"}


def test_each_group_version_lists_its_resources_with_kind_scope_verbs_and_short_names() -> None:
    core = document("/api/v1")
    apps = document("/apis/apps/v1")
    crd = document("/apis/crd.k8s.amazonaws.com/v1alpha1")

    assert core is not None and apps is not None and crd is not None
    assert (core["kind"], core["groupVersion"]) == ("APIResourceList", "v1")
    pods = {r["name"]: r for r in core["resources"]}["pods"]
    assert pods == {
        "name": "pods",
        "singularName": "pod",
        "namespaced": True,
        "kind": "Pod",
        "verbs": ["get", "list"],
        "shortNames": ["po"],
        "categories": ["all"],
    }
    [daemonsets] = apps["resources"]
    assert (daemonsets["name"], daemonsets["shortNames"]) == ("daemonsets", ["ds"])
    [eniconfigs] = crd["resources"]
    assert (eniconfigs["kind"], eniconfigs["namespaced"]) == ("ENIConfig", False)


def test_a_group_document_names_its_versions() -> None:
    assert document("/apis/apps") == {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": "apps",
        "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
        "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"},
    }


def test_paths_that_are_not_discovery_are_left_to_the_resources() -> None:
    assert document("/api/v1/pods") is None
    assert document("/apis/batch/v1") is None
    assert document("/apis/batch") is None
