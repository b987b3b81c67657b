"""The documents a newcomer starts from: the design is docs/design.md, and the links between the
README and docs/ lead somewhere."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OLD_NAME = "DESIGN" + ".md"  # spelled apart so this file does not match itself
# Matches a link to a repository file: [text](path) or [text](path#anchor), not URLs.
_LINK = re.compile(r"\]\((?!https?://|#|mailto:)([^)#\s]+)(?:#[^)]*)?\)")


def tracked(*patterns: str) -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", *patterns],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [ROOT / name for name in listed if (ROOT / name).is_file()]


def test_the_design_is_referred_to_by_its_path_in_the_repository() -> None:
    assert (ROOT / "docs" / "design.md").is_file()
    stale = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in tracked("*.py", "*.md", "*.toml", "*.json", "Makefile")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if OLD_NAME in line
    ]
    assert stale == [], "refer to docs/design.md"


def test_links_in_the_readme_and_docs_resolve() -> None:
    broken = [
        f"{document.relative_to(ROOT)}: {target}"
        for document in tracked("README.md", "docs/*.md")
        for target in _LINK.findall(document.read_text())
        if not (document.parent / target).exists()
    ]
    assert broken == []
