"""Pods the API sends in shapes it never should: left out of the counts, and named."""

from __future__ import annotations

from ipaudit.kube.kube_view import _odd_pods_note, _running_pod


def test_a_pod_with_a_null_part_is_left_out_and_named() -> None:
    odd: set[str] = set()
    assert _running_pod({"metadata": None, "spec": {}, "status": {}}, odd) is None
    assert _running_pod({"metadata": {"name": "p", "namespace": "n"}, "spec": None}, odd) is None
    running = {
        "metadata": {"name": "ok"},
        "spec": {"nodeName": "a"},
        "status": {"phase": "Running"},
    }
    assert _running_pod(running, odd) is not None
    assert _odd_pods_note(odd) == (
        "2 pods left out of the pod counts, their metadata, spec or status null: "
        "a pod without a name (metadata null), n/p (spec, status null)",
    )
