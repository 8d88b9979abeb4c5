"""Build the browser dashboard (``dashboard/``, Vite) into the bundle the gateway serves,
``gateway/generated/dashboard/``, which is committed so ``pip install .`` needs no Node.

    python scripts/build_dashboard.py            # npm ci if needed, build, replace the bundle
                                                 # (and re-render the deploy Envoy configs)
    python scripts/build_dashboard.py --check    # build into a temporary directory, exit 1
                                                 # listing the files that differ

The build is deterministic (no source maps, content-hashed names from the sources and the
locked dependencies), so a fresh build equals the committed bundle byte for byte.
"""

from __future__ import annotations

import argparse
import filecmp
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO / "dashboard"
BUNDLE = REPO / "gateway" / "generated" / "dashboard"


def _npm() -> str:
    npm = shutil.which("npm")
    if npm is None:
        sys.exit("npm not found: the dashboard build needs Node.js 20+ and npm")
    return npm


def _lock_digest() -> str:
    return hashlib.sha256((SOURCE / "package-lock.json").read_bytes()).hexdigest()


def ensure_dependencies() -> None:
    """``npm ci`` unless node_modules was installed by it from this very package-lock.json."""
    stamp = SOURCE / "node_modules" / ".feedbackmesh-lock-sha256"
    digest = _lock_digest()
    if stamp.is_file() and stamp.read_text(encoding="utf-8") == digest:
        return
    subprocess.run(
        [_npm(), "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=SOURCE, check=True
    )
    stamp.write_text(digest, encoding="utf-8")


def build(out: Path) -> None:
    """Vite build of ``dashboard/`` into ``out`` (emptied first)."""
    ensure_dependencies()
    env = {**os.environ, "DASHBOARD_OUT_DIR": str(out)}
    subprocess.run(
        [_npm(), "run", "--silent", "build", "--", "--logLevel", "warn"],
        cwd=SOURCE,
        env=env,
        check=True,
    )


def _files(root: Path) -> set[str]:
    if not root.is_dir():
        return set()
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def differences(built: Path, committed: Path = BUNDLE) -> list[str]:
    """Files (relative to the bundle) that are missing, extra or changed."""
    new, old = _files(built), _files(committed)
    changed = [
        name
        for name in sorted(new & old)
        if not filecmp.cmp(built / name, committed / name, shallow=False)
    ]
    return sorted(new ^ old) + changed


def stale_files() -> list[str]:
    with tempfile.TemporaryDirectory(prefix="feedbackmesh-dashboard-") as tmp:
        out = Path(tmp) / "dashboard"
        build(out)
        return differences(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="fail if the bundle is stale")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        for name in stale:
            print(f"gateway/generated/dashboard/{name}: STALE", file=sys.stderr)
        if stale:
            print("run python scripts/build_dashboard.py", file=sys.stderr)
        return 1 if stale else 0
    with tempfile.TemporaryDirectory(prefix="feedbackmesh-dashboard-") as tmp:
        out = Path(tmp) / "dashboard"
        build(out)
        if BUNDLE.exists():
            shutil.rmtree(BUNDLE)
        shutil.copytree(out, BUNDLE)
    print(f"{BUNDLE.relative_to(REPO)}: written ({len(_files(BUNDLE))} files)")
    # The deploy Envoy configs name the bundle's files.
    subprocess.run([sys.executable, str(REPO / "scripts" / "render_deploy.py")], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
