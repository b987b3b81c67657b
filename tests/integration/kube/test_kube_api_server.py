"""The local Kubernetes API speaks the real wire format, so the official client meets it as EKS."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import boto3
import pytest
from kubernetes import client as k8s

from ipaudit.kube.token import eks_token
from ipaudit_sim.kube_api import KubeApiServer, node_object, pod_object


def get(
    kube: KubeApiServer, path: str, token: str | None, accept: str | None = None
) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if accept:
        headers["Accept"] = accept
    request = urllib.request.Request(kube.url + path, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


@pytest.fixture
def token(aws: boto3.Session) -> str:
    return eks_token(aws, "prod")


def test_lists_page_with_continue_and_a_stale_continue_is_gone(
    kube: KubeApiServer, token: str
) -> None:
    kube.nodes = [node_object(f"node-{n}", f"i-{n:017x}", "eu-west-1a", 29) for n in range(5)]

    status, first = get(kube, "/api/v1/nodes?limit=2", token)
    status_2, second = get(
        kube, f"/api/v1/nodes?limit=2&continue={first['metadata']['continue']}", token
    )
    status_3, stale = get(
        kube, f"/api/v1/nodes?limit=2&continue={first['metadata']['continue']}", token
    )

    assert (status, first["kind"], first["apiVersion"]) == (200, "NodeList", "v1")
    assert first["metadata"]["resourceVersion"]
    assert [n["metadata"]["name"] for n in first["items"]] == ["node-0", "node-1"]
    assert first["metadata"]["remainingItemCount"] == 3
    assert status_2 == 200
    assert [n["metadata"]["name"] for n in second["items"]] == ["node-2", "node-3"]
    assert (status_3, stale["kind"], stale["reason"], stale["code"]) == (
        410,
        "Status",
        "Expired",
        410,
    )


def test_field_selectors_filter_pods_as_the_real_api_does(kube: KubeApiServer, token: str) -> None:
    kube.pods = [
        pod_object("default", "a", "node-1", "10.0.0.1"),
        pod_object("default", "b", "node-2", "10.0.0.2"),
        pod_object("batch", "c", "node-1", "10.0.0.3", phase="Succeeded"),
        pod_object("default", "d", None, None, phase="Pending"),
    ]

    def names(selector: str) -> list[str]:
        status, body = get(kube, f"/api/v1/pods?fieldSelector={selector}", token)
        assert status == 200
        return [p["metadata"]["name"] for p in body["items"]]

    assert names("spec.nodeName=node-1") == ["c", "a"]  # namespace/name order, like etcd keys
    assert names("status.phase==Succeeded") == ["c"]
    assert names("status.phase!=Succeeded,status.phase!=Pending") == ["a", "b"]
    assert names("spec.nodeName=") == ["d"]
    status, refused = get(kube, "/api/v1/pods?fieldSelector=spec.containers=x", token)
    assert (status, refused["reason"]) == (400, "BadRequest")


def test_a_missing_object_is_a_not_found_status_worded_like_the_real_server(
    kube: KubeApiServer, token: str
) -> None:
    status, body = get(kube, "/apis/apps/v1/namespaces/kube-system/daemonsets/aws-node", token)
    pod_status, pod = get(kube, "/api/v1/namespaces/default/pods/x", token)

    assert status == 404
    assert (body["kind"], body["status"], body["reason"], body["code"]) == (
        "Status",
        "Failure",
        "NotFound",
        404,
    )
    assert body["message"] == 'daemonsets.apps "aws-node" not found'
    assert body["details"] == {"name": "aws-node", "group": "apps", "kind": "daemonsets"}
    assert (pod_status, pod["message"], pod["details"]) == (
        404,
        'pods "x" not found',
        {"name": "x", "kind": "pods"},
    )


def test_one_object_is_read_by_name(kube: KubeApiServer, token: str) -> None:
    kube.pods = [pod_object("default", "web", "node-0", "10.0.0.5")]

    status, pod = get(kube, "/api/v1/namespaces/default/pods/web", token)

    assert (status, pod["kind"], pod["metadata"]["name"]) == (200, "Pod", "web")
    assert pod["status"]["podIP"] == "10.0.0.5"


def test_label_selectors_filter_lists_and_a_bad_one_is_a_bad_request(
    kube: KubeApiServer, token: str
) -> None:
    kube.pods = [
        pod_object("default", "web-1", "node-1", "10.0.0.1"),
        pod_object("default", "api-1", "node-1", "10.0.0.2"),
    ]

    status, body = get(kube, "/api/v1/pods?labelSelector=app%3Dweb", token)
    bad, refused = get(kube, "/api/v1/pods?labelSelector=app%3D%28web", token)

    assert (status, [p["metadata"]["name"] for p in body["items"]]) == (200, ["web-1"])
    assert (bad, refused["reason"]) == (400, "BadRequest")
    assert refused["message"].startswith("unable to parse requirement")


def test_discovery_is_served_to_authenticated_clients_only(kube: KubeApiServer, token: str) -> None:
    status, groups = get(kube, "/apis", token)
    core_status, core = get(kube, "/api/v1", token)

    assert (status, groups["kind"]) == (200, "APIGroupList")
    assert {g["name"] for g in groups["groups"]} == {"apps", "crd.k8s.amazonaws.com"}
    assert {r["name"] for r in core["resources"]} == {"nodes", "pods", "events"}
    assert core_status == 200
    assert get(kube, "/api", None)[0] == 401


def test_a_client_asking_for_a_table_gets_one_page_by_page(kube: KubeApiServer, token: str) -> None:
    kube.nodes = [node_object(f"node-{n}", f"i-{n:017x}", "eu-west-1a", 29) for n in range(3)]
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"

    status, first = get(kube, "/api/v1/nodes?limit=2", token, accept)
    _, rest = get(
        kube, f"/api/v1/nodes?limit=2&continue={first['metadata']['continue']}", token, accept
    )

    assert (status, first["kind"], first["apiVersion"]) == (200, "Table", "meta.k8s.io/v1")
    assert [c["name"] for c in first["columnDefinitions"]][:2] == ["Name", "Status"]
    names = [row["cells"][0] for row in first["rows"] + rest["rows"]]
    assert names == ["node-0", "node-1", "node-2"]
    assert "continue" not in rest["metadata"]


def test_requests_without_a_valid_token_get_an_unauthorized_status(kube: KubeApiServer) -> None:
    status, body = get(kube, "/api/v1/nodes", None)

    assert (status, body["kind"], body["reason"]) == (401, "Status", "Unauthorized")
    assert get(kube, "/version", None)[0] == 200  # public, as on EKS


def test_a_token_pointing_anywhere_but_sts_is_refused_without_calling_it(
    aws: boto3.Session, kube: KubeApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://sts.attacker.example")
    foreign = eks_token(boto3.Session(region_name="eu-west-1"), "prod")

    assert get(kube, "/api/v1/nodes", foreign)[0] == 401
    assert kube.auth_errors == ["token points at sts.attacker.example, which is not STS"]


def test_fail_with_answers_every_request_with_that_status(kube: KubeApiServer) -> None:
    kube.fail_with = 503

    status, body = get(kube, "/version", None)

    assert (status, body["reason"], body["code"]) == (503, "ServiceUnavailable", 503)
    assert kube.requests == ["/version"]


def test_the_official_client_reads_what_it_serves(kube: KubeApiServer, token: str) -> None:
    kube.pods = [pod_object("default", "web", "node-0", "10.0.0.5")]
    configuration = k8s.Configuration()
    configuration.host = kube.url
    configuration.api_key = {"BearerToken": token}
    configuration.api_key_prefix = {"BearerToken": "Bearer"}

    with k8s.ApiClient(configuration) as api:
        version = k8s.VersionApi(api).get_code()
        pods = k8s.CoreV1Api(api).list_namespaced_pod("default")

    assert (version.major, version.minor) == ("1", "31")
    assert [(p.metadata.name, p.status.pod_ip) for p in pods.items] == [("web", "10.0.0.5")]
