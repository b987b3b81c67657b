"""The JSON report's schema, shipped with the package: every contract field required and typed,
fields added later welcome, and every field the report has declared in it."""

from __future__ import annotations

import dataclasses
from typing import Any

import jsonschema
import pytest
from support.reports import cluster, report, subnet

from ipaudit.report import (
    ClusterReport,
    Coverage,
    Finding,
    LeakedEni,
    NodeReport,
    Recommendation,
    Report,
    SubnetReport,
    json_schema,
)

VALIDATOR = jsonschema.Draft202012Validator(
    json_schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
)
DEFINITIONS = {
    Report: None,  # the schema's root
    ClusterReport: "cluster",
    SubnetReport: "subnet",
    NodeReport: "node",
    LeakedEni: "leaked_eni",
    Recommendation: "recommendation",
    Finding: "finding",
    Coverage: "coverage",
}


def sample() -> dict[str, Any]:
    prod = cluster(
        "prod", [subnet("subnet-a", free=40)], leaked=[LeakedEni("eni-1", "subnet-a", 3)]
    )
    return report([prod]).to_dict()


def errors(document: dict[str, Any]) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in VALIDATOR.iter_errors(document)
    ]


def test_the_schema_is_valid_draft_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(json_schema())


def test_a_report_validates_and_carries_its_schema_version() -> None:
    document = sample()
    assert document["schema_version"] == 1
    assert errors(document) == []


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ((), "schema_version"),
        ((), "generated_at"),
        (("clusters", 0), "warm_ips"),
        (("clusters", 0, "subnets", 0), "free"),
        (("clusters", 0, "nodes", 0), "ips_held"),
        (("clusters", 0, "leaked_enis", 0), "ips"),
        (("clusters", 0, "recommendation"), "command"),
        (("findings", 0), "severity"),
        (("coverage", 0), "status"),
    ],
)
def test_a_missing_contract_field_is_refused_by_name(path: tuple[Any, ...], field: str) -> None:
    document = sample()
    _at(document, path).pop(field)
    assert errors(document) == [f"{'/'.join(map(str, path))}: '{field}' is a required property"]


@pytest.mark.parametrize(
    ("path", "field", "value"),
    [
        (("clusters", 0, "subnets", 0), "free", "40"),
        (("clusters", 0, "subnets", 0), "free", -1),
        (("clusters", 0, "nodes", 0), "pods", 1.5),
        (("findings", 0), "severity", "SEVERE"),
        (("coverage", 0), "status", "partial"),
        ((), "generated_at", "yesterday"),
        ((), "schema_version", 2),
    ],
)
def test_a_contract_field_of_the_wrong_type_is_refused(
    path: tuple[Any, ...], field: str, value: object
) -> None:
    document = sample()
    _at(document, path)[field] = value
    found = errors(document)
    assert found
    assert all(e.startswith(f"{'/'.join(map(str, (*path, field)))}: ") for e in found), found


def test_unknown_pods_and_a_missing_recommendation_are_null() -> None:
    document = sample()
    document["clusters"][0]["pods"] = None
    document["clusters"][0]["nodes"][0]["pods"] = None
    document["clusters"][0]["recommendation"] = None
    assert errors(document) == []


@pytest.mark.parametrize(
    "path", [(), ("clusters", 0), ("clusters", 0, "subnets", 0), ("findings", 0)]
)
def test_fields_added_later_are_allowed(path: tuple[Any, ...]) -> None:
    document = sample()
    _at(document, path)["added_in_a_later_release"] = {"anything": [1, "two"]}
    assert errors(document) == []


@pytest.mark.parametrize("report_class", list(DEFINITIONS), ids=lambda c: c.__name__)
def test_every_field_of_the_report_is_declared_in_the_schema(report_class: type) -> None:
    schema = json_schema()
    definition = DEFINITIONS[report_class]
    declared = (schema if definition is None else schema["$defs"][definition])["properties"]
    fields = {f.name for f in dataclasses.fields(report_class)}
    missing = fields - set(declared)
    assert not missing, f"add {sorted(missing)} to lambda/ipaudit/report.schema.json"


def _at(document: dict[str, Any], path: tuple[Any, ...]) -> dict[str, Any]:
    node: Any = document
    for step in path:
        node = node[step]
    assert isinstance(node, dict)
    return node


def _set(document: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    target: Any = document
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return document


CORRUPTIONS = [
    (("clusters", 0, "pods"), "30", "report.clusters[0].pods: '30' is not integer or null"),
    (("clusters", 0, "ips_held"), -5, "report.clusters[0].ips_held: -5 is less than 0"),
    (("clusters", 0, "subnets", 0, "free"), None, "report.clusters[0].subnets[0].free: None"),
    (("clusters", 0, "ips_held"), True, "report.clusters[0].ips_held: True is not integer"),
    (("findings", 0, "severity"), "BAD", "report.findings[0].severity: 'BAD' is not one of"),
]


@pytest.mark.parametrize(("path", "value", "said"), CORRUPTIONS, ids=[c[2] for c in CORRUPTIONS])
def test_the_stdlib_check_finds_what_jsonschema_finds(
    path: tuple[Any, ...], value: Any, said: str
) -> None:
    from ipaudit.report_schema import schema_problem

    good = report([cluster(subnets=[subnet(free=50)])]).to_dict()
    assert schema_problem(good) is None
    bad = _set(good, path, value)
    problem = schema_problem(bad)
    assert problem is not None and problem.startswith(said), problem
    assert list(jsonschema.Draft202012Validator(json_schema()).iter_errors(bad))  # agrees
