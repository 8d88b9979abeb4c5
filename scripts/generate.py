"""Regenerates every generated file from ``protos/``: the Python stubs (with ``.pyi``
type stubs) under ``clients/python/src/feedbackmesh/`` (the client distribution, which the
server bundles: one copy in the repository) and the Envoy descriptor set under
``gateway/generated/``.

    python scripts/generate.py            # write into the repository (and re-render
                                          # the deploy Envoy configs that embed it)
    python scripts/generate.py --check    # exit 1 listing stale files, write nothing
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import google.api.annotations_pb2
import grpc_tools
from grpc_tools import protoc

REPO = Path(__file__).resolve().parent.parent
PROTO_ROOT = REPO / "protos"
DESCRIPTOR_SET = Path("gateway/generated/feedbackmesh.pb")
# Where the Python stubs go, relative to the repository.
PYTHON_ROOT = Path("clients/python/src")


def proto_files(proto_root: Path) -> list[str]:
    return sorted(str(p.relative_to(proto_root)) for p in proto_root.rglob("*.proto"))


def include_paths(proto_root: Path) -> list[str]:
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    # googleapis-common-protos ships google/api/*.proto and google/rpc/*.proto
    googleapis = Path(google.api.annotations_pb2.__file__).parent.parent.parent
    return [str(proto_root), str(well_known), str(googleapis)]


def _protoc(proto_root: Path, args: list[str]) -> None:
    includes = [f"-I{path}" for path in include_paths(proto_root)]
    code = protoc.main(["grpc_tools.protoc", *includes, *args, *proto_files(proto_root)])
    if code != 0:
        sys.exit(f"protoc failed with exit code {code}")


def generate(out: Path, proto_root: Path = PROTO_ROOT) -> list[Path]:
    """Writes all generated files under ``out``; returns their paths relative to it."""
    python_out = out / PYTHON_ROOT
    python_out.mkdir(parents=True, exist_ok=True)
    outs = [f"--python_out={python_out}", f"--pyi_out={python_out}"]
    _protoc(proto_root, [*outs, f"--grpc_python_out={python_out}"])
    for proto in proto_files(proto_root):
        # feedbackmesh/<svc>/v1/ and feedbackmesh/<svc>/ become regular packages
        # (mypy and setuptools need them); feedbackmesh/__init__.py is hand-written.
        version_dir = (python_out / proto).parent
        for package_dir in (version_dir, version_dir.parent):
            (package_dir / "__init__.py").touch()
    descriptor = out / DESCRIPTOR_SET
    descriptor.parent.mkdir(parents=True, exist_ok=True)
    _protoc(proto_root, [f"--descriptor_set_out={descriptor}", "--include_imports"])
    return sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())


def stale_files(repo: Path = REPO, proto_root: Path = PROTO_ROOT) -> list[str]:
    """Generated files in ``repo`` that differ from a fresh generation (or are missing)."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh_root = Path(tmp)
        stale = []
        for relative in generate(fresh_root, proto_root):
            committed = repo / relative
            if (
                not committed.exists()
                or committed.read_bytes() != (fresh_root / relative).read_bytes()
            ):
                stale.append(str(relative))
        return stale


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report stale files, write nothing")
    if parser.parse_args().check:
        stale = stale_files()
        if stale:
            sys.exit("stale generated files (run python scripts/generate.py):\n" + "\n".join(stale))
        return
    generate(REPO)
    # The deploy Envoy configs inline the descriptor set: re-render them too.
    subprocess.run([sys.executable, str(REPO / "scripts" / "render_deploy.py")], check=True)


if __name__ == "__main__":
    main()
