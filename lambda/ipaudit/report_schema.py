"""A stored report checked against the shipped `report.schema.json` before anything reads it.

A hand-edited or truncated report with a string, null or negative number where a count belongs
would otherwise reach the CNI model and end in a traceback, or a wrong "fits". The keywords the
schema uses (type, required, properties, additionalProperties, items, $ref to $defs, const,
enum, minimum, maximum, minLength, pattern) are checked here with the standard library, so the
command needs no validator installed; the tests check that `jsonschema` agrees.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ipaudit.report import json_schema

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


def schema_problem(document: Any) -> str | None:
    """The first place the document breaks the report schema, as `path: what`; None if none."""
    schema = json_schema()
    return next(_problems(document, schema, schema, "report"), None)


def _is(value: Any, name: str) -> bool:
    if isinstance(value, bool) and name in ("integer", "number"):
        return False  # JSON's true is no count
    if name == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _TYPES[name])


def _problems(value: Any, schema: Any, root: dict[str, Any], path: str) -> Iterator[str]:
    if not isinstance(schema, dict):
        return
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/$defs/")
        yield from _problems(value, root["$defs"][name], root, path)
    expected = schema.get("type")
    if expected is not None:
        names = expected if isinstance(expected, list) else [expected]
        if not any(_is(value, name) for name in names):
            yield f"{path}: {value!r} is not {' or '.join(names)}"
            return
    if "const" in schema and value != schema["const"]:
        yield f"{path}: {value!r} is not {schema['const']!r}"
    if "enum" in schema and value not in schema["enum"]:
        yield f"{path}: {value!r} is not one of {', '.join(map(repr, schema['enum']))}"
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            yield f"{path}: {value!r} is less than {schema['minimum']}"
        if "maximum" in schema and value > schema["maximum"]:
            yield f"{path}: {value!r} is more than {schema['maximum']}"
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            yield f"{path}: {value!r} is too short"
        if "pattern" in schema and not re.search(schema["pattern"], value):
            yield f"{path}: {value!r} does not match {schema['pattern']}"
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            yield from _problems(item, schema["items"], root, f"{path}[{index}]")
    if isinstance(value, dict):
        for name in schema.get("required", []):
            if name not in value:
                yield f"{path}: {name!r} is missing"
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            if name in properties:
                yield from _problems(item, properties[name], root, f"{path}.{name}")
            elif extra is False:
                yield f"{path}: {name!r} is not a report field"
            else:
                yield from _problems(item, extra, root, f"{path}.{name}")
