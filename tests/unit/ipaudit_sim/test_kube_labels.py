"""Label selectors select what the real API server would select."""

from __future__ import annotations

import pytest

from ipaudit_sim.kube_labels import LabelSelectorError, label_filter

OBJECTS = {
    "web": {"app": "web", "tier": "front"},
    "api": {"app": "api", "tier": "back"},
    "job": {"app": "report"},
    "bare": {},
}


def selected(selector: str) -> list[str]:
    keep = label_filter(selector)
    return [name for name, labels in OBJECTS.items() if keep({"metadata": {"labels": labels}})]


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=web", ["web"]),
        ("app==web", ["web"]),
        ("app!=web", ["api", "job", "bare"]),  # != also matches objects without the label
        ("tier", ["web", "api"]),
        ("!tier", ["job", "bare"]),
        ("app in (web, api)", ["web", "api"]),
        ("app notin (web,api)", ["job", "bare"]),
        ("app in (web,api),tier=back", ["api"]),
        ("", ["web", "api", "job", "bare"]),
    ],
)
def test_selectors_match_like_the_api_server(selector: str, expected: list[str]) -> None:
    assert selected(selector) == expected


def test_objects_without_labels_are_only_matched_by_negations() -> None:
    keep = label_filter("app!=web")
    assert keep({"metadata": {}})
    assert not label_filter("app=web")({"metadata": {}})


@pytest.mark.parametrize("selector", ["app=(web", "app in web", "=web", "app=we b"])
def test_a_selector_that_does_not_parse_is_refused_in_one_line(selector: str) -> None:
    with pytest.raises(LabelSelectorError) as refused:
        label_filter(selector)
    assert str(refused.value).startswith("unable to parse requirement: ")
