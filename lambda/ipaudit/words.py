"""Counted nouns as every message writes them: `1 node`, `2 nodes`, never `node(s)`."""

from __future__ import annotations


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """`1 node`, `2 nodes`; `plural_form` where adding an s is wrong."""
    return f"{count} {singular if count == 1 else plural_form or singular + 's'}"


def noun(count: int, singular: str, plural_form: str | None = None) -> str:
    """The noun alone, agreeing with `count`: `is`/`are` sentences put the count elsewhere."""
    return singular if count == 1 else plural_form or singular + "s"
