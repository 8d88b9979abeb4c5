"""Every relative link in the repository's Markdown resolves inside the repository (the
docs are read in a fresh clone, where nothing outside it exists)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# [text](target) and [text](target "title"); images too.
_LINK = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_SKIP_DIRS = {".git", "node_modules", ".venv", "build", "dist"}


def markdown_files() -> list[Path]:
    return sorted(
        path
        for path in REPO.rglob("*.md")
        if not _SKIP_DIRS.intersection(path.relative_to(REPO).parts)
    )


def relative_links(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    return [
        target
        for target in _LINK.findall(text)
        if not re.match(r"[a-z][a-z0-9+.-]*:", target) and not target.startswith("#")
    ]


def test_the_docs_are_found() -> None:
    names = {path.relative_to(REPO).as_posix() for path in markdown_files()}
    assert {"README.md", "CONTRIBUTING.md", "docs/architecture.md"} <= names


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: p.relative_to(REPO).as_posix())
def test_relative_links_resolve_inside_the_repository(path: Path) -> None:
    broken = []
    for target in relative_links(path):
        resolved = (path.parent / target.split("#", 1)[0]).resolve()
        if not resolved.is_relative_to(REPO) or not resolved.exists():
            broken.append(target)
    assert not broken, f"{path.relative_to(REPO)}: {broken}"
