"""The vpc-cni managed add-on's configuration values, and the same document with new env values.

`aws eks update-addon --configuration-values` replaces the add-on's whole configuration, so a
command that sets a few aws-node variables must carry everything else the user configured:
security groups for pods, custom networking, the network policy agent (`nodeAgent`), `init`,
resources, tolerations. DescribeAddon returns the document as the user gave it, JSON or YAML.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Mapping
from typing import Any

import yaml


class UnreadableConfiguration(ValueError):
    """The configuration values cannot be turned into a JSON document without loss."""


def parse_configuration(text: str) -> dict[str, Any]:
    """The document (empty when the add-on carries none); JSON or YAML, as EKS accepts both."""
    if not text.strip():
        return {}
    try:
        document: Any = json.loads(text)
    except ValueError:
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise UnreadableConfiguration(f"neither JSON nor YAML ({_first_line(error)})") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise UnreadableConfiguration("not a mapping of settings")
    _check_json(document, "")
    env = document.get("env", {})
    if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
        raise UnreadableConfiguration("env: not a mapping of variable names to strings")
    return document


def with_env(document: Mapping[str, Any], changes: Mapping[str, str]) -> dict[str, Any]:
    """The document with only these env variables set; every other key and value as it was."""
    updated = copy.deepcopy(dict(document))
    env = dict(updated.get("env") or {})
    env.update(changes)
    updated["env"] = env
    return updated


def _check_json(value: Any, where: str) -> None:
    """YAML can hold what JSON cannot (dates, sets, non-string keys): converting those would
    change the configuration, so such a document is unreadable here."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise UnreadableConfiguration(f"{where}{key!r}: not a string key")
            _check_json(item, f"{where}{key}.")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_json(item, f"{where}{index}.")
    elif isinstance(value, float) and not math.isfinite(value):
        raise UnreadableConfiguration(f"{where.rstrip('.')}: {value}, which JSON cannot carry")
    elif value is not None and not isinstance(value, str | int | float | bool):
        raise UnreadableConfiguration(
            f"{where.rstrip('.')}: a {type(value).__name__}, which JSON cannot carry"
        )


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
