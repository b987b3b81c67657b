"""The report's dataclasses back from their JSON form (`dataclasses.asdict`, then `json`).

Driven by the dataclasses' own type hints, so a field added to the report round-trips without a
change here. Keys the dataclass does not know are dropped: a newer writer may add fields.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import functools
import types
import typing
from typing import Any, TypeVar

from ipaudit.report import Report, TargetReport

T = TypeVar("T")


def report_from_dict(values: dict[str, Any]) -> Report:
    return decode(Report, values)


def target_report_from_dict(values: dict[str, Any]) -> TargetReport:
    return decode(TargetReport, values)


def decode(cls: type[T], values: Any) -> T:
    """An instance of the dataclass `cls` from its `asdict` form."""
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
        # `X | None`: the value is not None here, so it is the other member.
        (inner,) = [arg for arg in args if arg is not type(None)] or [Any]
        return _value(inner, value)
    if origin is list:
        return [_value(args[0], item) for item in value]
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_value(args[0], item) for item in value)
        return tuple(_value(inner, item) for inner, item in zip(args, value, strict=True))
    if origin in (dict, collections.abc.Mapping):
        inner_hint = args[1] if len(args) == 2 else Any
        return {key: _value(inner_hint, item) for key, item in value.items()}
    return value
