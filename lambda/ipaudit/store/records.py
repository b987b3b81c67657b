"""Report dataclasses to plain values and back: the one serializer the store uses.

`dump` is `dataclasses.asdict`; `load` rebuilds any of the report's dataclasses from what
`dump` made (after a round trip through DynamoDB), following the field types, so a stored run
read back equals the report that was stored, field for field. Keys a newer version wrote and
this one does not know are ignored; fields an older version did not write take their defaults.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from typing import Any, TypeVar, Union

_T = TypeVar("_T")


def dump(record: Any) -> dict[str, Any]:
    return dataclasses.asdict(record)


def load(cls: type[_T], values: typing.Mapping[str, Any]) -> _T:
    hints = _hints(cls)  # type: ignore[arg-type]
    known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**{name: _value(hints[name], v) for name, v in values.items() if name in known})


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _value(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return _value(options[0], value) if len(options) == 1 else value
    if origin is list:
        (inner,) = typing.get_args(hint)
        return [_value(inner, v) for v in value]
    if origin is tuple:
        inner = typing.get_args(hint)[0]
        return tuple(_value(inner, v) for v in value)
    if origin is dict or origin is typing.Mapping:
        inner = typing.get_args(hint)[1]
        return {k: _value(inner, v) for k, v in value.items()}
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return load(hint, value)
    if hint is float and isinstance(value, int):
        return float(value)  # DynamoDB gives a whole float back as an int
    return value
