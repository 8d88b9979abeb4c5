"""Write constraints.txt: the exact versions of every Python package the image and CI
install (the dependency closure of ``feedbackmesh[dev]``, as installed here, where the
suite passed), so that two installs a week apart are the same. (The build backend,
pyproject's ``[build-system]``, is left to pip's isolated build.)

    pip install -e '.[dev]' && python scripts/lock_deps.py          # rewrite constraints.txt
    python scripts/lock_deps.py --check                            # exit 1 if it is stale

The Dockerfile and .ci/run install with ``PIP_CONSTRAINT=constraints.txt``.
"""

from __future__ import annotations

import argparse
import sys
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parent.parent
LOCK = REPO / "constraints.txt"
ROOT = "feedbackmesh"
ROOT_EXTRAS = ("dev",)
# Installer tooling: pip's isolated build brings the build backend pyproject asks for, and a
# pin here would override that request.
UNPINNED = frozenset({"pip", "setuptools", "wheel"})
HEADER = """\
# Exact versions for the image and CI (PIP_CONSTRAINT=constraints.txt); written by
# `python scripts/lock_deps.py` from the environment the suite passed in (Linux, CPython
# 3.11). Bump a dependency: change pyproject.toml, `pip install -e '.[dev]'`, re-run it.
"""


def _applies(requirement: Requirement, extras: tuple[str, ...]) -> bool:
    if requirement.marker is None:
        return True
    environment = {key: str(value) for key, value in default_environment().items()}
    return any(
        requirement.marker.evaluate({**environment, "extra": extra}) for extra in ("", *extras)
    )


def closure() -> dict[str, str]:
    """Canonical name -> installed version of every package ``feedbackmesh[dev]`` needs."""
    pinned: dict[str, str] = {}
    pending: list[tuple[str, tuple[str, ...]]] = [(ROOT, ROOT_EXTRAS)]
    seen: set[tuple[str, tuple[str, ...]]] = set()
    while pending:
        name, extras = pending.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        distribution = metadata.distribution(name)
        key = canonicalize_name(distribution.metadata["Name"])
        if key != ROOT and key not in UNPINNED:
            pinned[key] = distribution.version
        for line in distribution.requires or ():
            requirement = Requirement(line)
            if _applies(requirement, extras):
                pending.append((requirement.name, tuple(sorted(requirement.extras))))
    return pinned


def render() -> str:
    return HEADER + "".join(f"{name}=={version}\n" for name, version in sorted(closure().items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="fail if constraints.txt is stale")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = LOCK.read_text(encoding="utf-8") if LOCK.exists() else ""
        if current != text:
            print(f"{LOCK.name} is stale: run python scripts/lock_deps.py", file=sys.stderr)
            return 1
        return 0
    LOCK.write_text(text, encoding="utf-8")
    print(f"{LOCK.name}: {text.count(chr(10)) - HEADER.count(chr(10))} packages")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
