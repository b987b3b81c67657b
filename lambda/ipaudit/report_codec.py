"""The report's dataclasses to plain values and back: the one codec the JSON report, stored
runs and pending deliveries all use.

`encode` gives `dataclasses.asdict`'s answer, without its copies; `decode`
rebuilds any dataclass from what `encode` made, after JSON or a round trip through DynamoDB,
driven by the dataclasses' own type hints, so a field added to the report round-trips without
a change here. Keys the dataclass does not know are dropped (a newer writer may add fields);
fields an older writer did not write take their defaults; a whole float DynamoDB gives back as
an int is a float again.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import functools
import json
import operator
import types
import typing
from collections.abc import Callable
from typing import Any, TypeVar

from ipaudit.gc_pause import collection_paused
from ipaudit.report import Report, TargetReport

T = TypeVar("T")


def report_from_dict(values: dict[str, Any]) -> Report:
    return decode(Report, values)


def target_report_from_dict(values: dict[str, Any]) -> TargetReport:
    return decode(TargetReport, values)


_PLAIN = (str, int, float, bool, type(None))
_PLAIN_TYPES = frozenset(_PLAIN)


@functools.cache
def _fields_of(cls: type) -> tuple[tuple[str, ...], Callable[[Any], tuple[Any, ...]]] | None:
    """A dataclass's field names and a reader of all their values at once (in C); None for
    any other type."""
    if not dataclasses.is_dataclass(cls):
        return None
    names = tuple(f.name for f in dataclasses.fields(cls))
    if len(names) == 1:
        single = operator.attrgetter(names[0])
        return names, lambda value: (single(value),)
    return names, operator.attrgetter(*names)


def encode(value: Any) -> Any:
    """`dataclasses.asdict`'s answer for the report's dataclasses (lists, tuples, dicts and
    plain values inside them), without its deep copies: the values are immutable, and copying
    them was most of turning a 10,000-node report into JSON."""
    with collection_paused():
        return _encoded(value)


def _encoded(value: Any) -> Any:
    kind: type = type(value)
    if kind in _PLAIN_TYPES:
        return value
    if kind is list:
        return [_encoded(item) for item in value]
    fields = _fields_of(kind)
    if fields is not None:
        names, read = fields
        # A plain value is kept as it is without a call: most of a report's are.
        return {
            name: item if type(item) in _PLAIN_TYPES else _encoded(item)
            for name, item in zip(names, read(value), strict=True)
        }
    if isinstance(value, _PLAIN):  # a subclass: an enum's str, a bool's int
        return value
    if isinstance(value, list):
        return [_encoded(item) for item in value]
    if isinstance(value, tuple):
        return tuple(_encoded(item) for item in value)
    if isinstance(value, dict):
        return {_encoded(key): _encoded(item) for key, item in value.items()}
    return value


def dumps(value: Any, **options: Any) -> str:
    """`json.dumps(encode(value), **options)`, written by json's encoder asking for each
    dataclass's fields as it meets it, with no tree of dicts built first (a fifth faster for a
    10,000-node report)."""
    with collection_paused():
        return json.dumps(value, default=field_values, **options)


def field_values(value: Any) -> dict[str, Any]:
    """A dataclass's fields, one level deep: its own `encode` before its values are."""
    kind: type = type(value)
    described = _fields_of(kind)
    if described is None:
        raise TypeError(f"{type(value).__name__} is not a report dataclass")
    names, read = described
    return dict(zip(names, read(value), strict=True))


def decode(cls: type[T], values: Any) -> T:
    """An instance of the dataclass `cls` from its `asdict` form."""
    with collection_paused():
        result: T = _value(cls, values)
    return result


@functools.cache
def _field_hints(cls: type) -> dict[str, Any]:
    """A dataclass's init fields and their type hints, resolved once per class (resolving them
    for every object was three quarters of reading a 10,000-node report)."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.init}


def _value(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        hints = _field_hints(hint)
        return hint(**{k: _value(hints[k], v) for k, v in value.items() if k in hints})
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        # `X | None`: the value is not None here, so it is the other member; a union of
        # several (`int | str`) is taken as it came.
        options = [arg for arg in args if arg is not type(None)]
        return _value(options[0], value) if len(options) == 1 else value
    if origin is list:
        return [_value(args[0], item) for item in value]
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_value(args[0], item) for item in value)
        return tuple(_value(inner, item) for inner, item in zip(args, value, strict=True))
    if origin in (dict, collections.abc.Mapping):
        inner_hint = args[1] if len(args) == 2 else Any
        return {key: _value(inner_hint, item) for key, item in value.items()}
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)  # DynamoDB gives a whole float back as an int
    return value
