"""The documents a newcomer starts from: the design is docs/design.md, and the links between the
README and docs/ lead somewhere."""

from __future__ import annotations

import ast
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


# --- the documents name only what exists ----------------------------------------------------

DOCUMENTS = ("README.md", "docs/*.md")
PACKAGE = ROOT / "lambda" / "ipaudit"
# Where a path in the documents may be relative to: the repository, the package (docs/design.md
# names modules as `aws/targets.py`), the simulators' and the function asset's roots, infra/.
BASES = (ROOT, PACKAGE, ROOT / "lambda", ROOT / "demo", ROOT / "infra")
_BACKTICKED = re.compile(r"`([^`\s]+)`")
_PATHLIKE = re.compile(r"[\w.-]+(?:/[\w.-]+)*/?")
# A bare name is a repository file only as a module or a document (`targets.json` is an S3 key).
_FILE = re.compile(r".*\.(py|md)$")
# `analysis/report_builder.target_report`: a function, named by its module's path.
_ATTRIBUTE = re.compile(r"(.*/\w+)\.(?!py$|md$|json$|toml$|txt$)\w+$")
# Calls whose first argument is a finding's kind, and keyword arguments naming one.
_KIND_CALLS = frozenset({"finding_id", "_finding", "subnet_finding"})


def named_paths(text: str) -> set[str]:
    """Backticked and linked repository paths: `lambda/ipaudit/x.py`, `docs/`, `state.py`; not
    URLs, labels (`kubernetes.io/role/elb`), API paths (`/api/v1`) or globs."""
    found = set(_LINK.findall(text))
    for token in _BACKTICKED.findall(text):
        if not _PATHLIKE.fullmatch(token) or token.startswith(("/", ".")):
            continue
        head = token.split("/", 1)[0]
        top = (ROOT / head).exists() or (PACKAGE / head).is_dir() or head == "ipaudit_sim"
        if ("/" in token and top and "." not in head) or _FILE.match(token):
            found.add(_ATTRIBUTE.sub(r"\1.py", token))
    return found


def emitted_kinds() -> set[str]:
    """Every finding `kind` the code can emit: the literal given to the calls that make a
    finding or its id, to `Finding(kind=...)`, or as a module's `KIND`."""
    kinds: set[str] = set()
    for module in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if (
                isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "KIND" for t in node.targets)
                and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)
            ):
                kinds.add(node.value.value)
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            values = [k.value for k in node.keywords if k.arg == "kind" and name == "Finding"]
            if name in _KIND_CALLS and node.args:
                values.append(node.args[0])
            kinds.update(
                v.value for v in values if isinstance(v, ast.Constant) and isinstance(v.value, str)
            )
    return kinds


def finds_table(readme: str) -> list[str]:
    """The kinds in README's "What it finds" table, in order."""
    section = readme.split("## What it finds", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `(\w+)` \|", section, re.MULTILINE)


def named_kinds(text: str) -> set[str]:
    """Kinds the documents name: `kind=x`, `"kind": "x"`, ids and SNS subjects starting with one,
    and `x` called a finding (or a WARNING, CRITICAL)."""
    return set(
        re.findall(r"kind=(\w+)", text)
        + re.findall(r'"kind": "(\w+)"', text)
        + re.findall(r"\b([a-z]+(?:_[a-z]+)+):\d{12}:", text)
        + re.findall(r"ipaudit (?:CRITICAL|WARNING) \w+: (\w+) ", text)
        + re.findall(r"`([a-z]+_[a-z_]+)` (?:finding|WARNING|CRITICAL)", text)
    )


def test_every_repository_path_the_documents_name_exists() -> None:
    missing = [
        f"{document.relative_to(ROOT)}: {path}"
        for document in tracked(*DOCUMENTS)
        for path in sorted(named_paths(document.read_text()))
        if not any((base / path).exists() for base in (document.parent, *BASES))
    ]
    assert missing == []


def test_every_finding_kind_is_documented_and_every_documented_kind_is_emitted() -> None:
    kinds = emitted_kinds()
    assert {"subnet_headroom", "subnet_forecast", "coverage"} <= kinds  # the walk finds them
    assert set(finds_table((ROOT / "README.md").read_text())) == kinds
    named = {
        f"{document.relative_to(ROOT)}: {kind}"
        for document in tracked(*DOCUMENTS)
        for kind in named_kinds(document.read_text())
        if kind not in kinds
    }
    assert named == set()


def test_the_member_roles_actions_are_the_ones_the_documents_list() -> None:
    from infra.permissions import ORGANIZATIONS_READ_ACTIONS, READ_ONLY_ACTIONS

    readme = (ROOT / "README.md").read_text()
    iam = readme.split("IAM actions it needs", 1)[1].split("\n\n", 2)[1]
    deploy = (ROOT / "docs" / "deploy.md").read_text()
    role = deploy.split("## 6. The read-only role", 1)[1].split("\n## ", 1)[0]
    action = re.compile(r"`((?:ec2|eks|autoscaling|sts|organizations|servicequotas):[A-Z]\w+)`")
    granted = {*READ_ONLY_ACTIONS, *ORGANIZATIONS_READ_ACTIONS, "sts:AssumeRole"}
    assert set(action.findall(iam)) == granted
    condition_keys = {"sts:ExternalId"}  # named beside the actions, in the role's trust
    assert set(action.findall(role)) - condition_keys == set(READ_ONLY_ACTIONS)
