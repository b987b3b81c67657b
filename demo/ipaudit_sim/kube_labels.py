"""Label selectors (`?labelSelector=`) as the Kubernetes API server reads them.

Equality (`k=v`, `k==v`, `k!=v`), sets (`k in (a,b)`, `k notin (a,b)`) and existence (`k`,
`!k`), joined by commas. As in apimachinery's `labels` package, `!=` and `notin` also match
objects that do not carry the label at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

LabelFilter = Callable[[Mapping[str, Any]], bool]

_KEY = r"[A-Za-z0-9][-A-Za-z0-9_./]*"
_VALUE = r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_EQUALITY = re.compile(rf"\s*({_KEY})\s*(==|=|!=)\s*({_VALUE})\s*")
_SET = re.compile(rf"\s*({_KEY})\s+(in|notin)\s*\(([^()]*)\)\s*")
_EXISTS = re.compile(rf"\s*(!?)\s*({_KEY})\s*")


class LabelSelectorError(ValueError):
    """The selector does not parse; the message is the server's one-line answer."""


def _terms(selector: str) -> list[str]:
    """Split on the commas that separate requirements, not those inside `in (a,b)`."""
    terms, depth, start = [], 0, 0
    for position, char in enumerate(selector):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            terms.append(selector[start:position])
            start = position + 1
    terms.append(selector[start:])
    return [term for term in terms if term.strip()]


def _requirement(term: str) -> Callable[[Mapping[str, str]], bool]:
    if match := _SET.fullmatch(term):
        key, operator, raw = match.groups()
        values = {v.strip() for v in raw.split(",")}
        if operator == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    if match := _EQUALITY.fullmatch(term):
        key, operator, value = match.groups()
        if operator == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    if match := _EXISTS.fullmatch(term):
        negated, key = match.groups()
        return lambda labels: (key in labels) != bool(negated)
    raise LabelSelectorError(f"unable to parse requirement: {term.strip()!r}")


def label_filter(selector: str) -> LabelFilter:
    """A predicate over objects (their `metadata.labels`) for one selector string."""
    requirements = [_requirement(term) for term in _terms(selector)]

    def keep(obj: Mapping[str, Any]) -> bool:
        labels = obj.get("metadata", {}).get("labels") or {}
        return all(requirement(labels) for requirement in requirements)

    return keep
