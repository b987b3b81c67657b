"""Plain Python values to and from DynamoDB attribute values (the timestamps in keys are
`ipaudit.timestamps`'s).

DynamoDB has no floats: numbers travel as Decimal and come back as int when whole.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef


@functools.cache
def _types() -> tuple[TypeSerializer, TypeDeserializer]:
    # Made on first use: importing boto3 costs ~0.1 s, and most of this module's readers need
    # none of it.
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

    return TypeSerializer(), TypeDeserializer()


def to_item(values: Mapping[str, Any]) -> dict[str, AttributeValueTypeDef]:
    return {key: _types()[0].serialize(_decimals(value)) for key, value in values.items()}


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _numbers(_types()[1].deserialize(value)) for key, value in item.items()}


def _decimals(value: Any) -> Any:
    if isinstance(value, float):
        # NaN and infinity have no DynamoDB form; a missing measurement is the honest value.
        return Decimal(repr(value)) if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {key: _decimals(inner) for key, inner in value.items()}
    if isinstance(value, list | tuple):
        return [_decimals(inner) for inner in value]
    return value


def _numbers(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _numbers(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_numbers(inner) for inner in value]
    return value
