"""Regenerates every generated file from ``protos/``: the Python stubs (with ``.pyi``
type stubs for the messages, from protoc, and for the gRPC stubs, from mypy-protobuf's
``protoc-gen-mypy_grpc``) under ``clients/python/src/feedbackmesh/`` (the client
distribution, which the server bundles: one copy in the repository), the blocking client
derived from the asyncio one (see ``sync_source``) and the Envoy descriptor set under
``gateway/generated/``.

    python scripts/generate.py            # write into the repository (and re-render
                                          # the deploy Envoy configs that embed it)
    python scripts/generate.py --check    # exit 1 listing stale files, write nothing
"""

from __future__ import annotations

import argparse
import io
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import tokenize
from pathlib import Path

import google.api.annotations_pb2
import grpc_tools
from grpc_tools import protoc

REPO = Path(__file__).resolve().parent.parent
PROTO_ROOT = REPO / "protos"
DESCRIPTOR_SET = Path("gateway/generated/feedbackmesh.pb")
# Where the Python stubs go, relative to the repository.
PYTHON_ROOT = Path("clients/python/src")


def mypy_grpc_plugin() -> str:
    """mypy-protobuf's gRPC stub plugin, installed with the dev extras next to this
    interpreter's scripts."""
    name = "protoc-gen-mypy_grpc"
    candidate = Path(sysconfig.get_path("scripts")) / name
    found = str(candidate) if candidate.exists() else shutil.which(name)
    if found is None:
        sys.exit(f"{name} not found: pip install -e '.[dev]' (mypy-protobuf)")
    return found


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


ASYNC_SOURCE = Path("clients/python/src/feedbackmesh/client/aio.py")
SYNC_SOURCE = ASYNC_SOURCE.with_name("sync.py")
HEADER = "# Generated from aio.py by `python scripts/generate.py`: edit aio.py, not this file.\n"
DROPPED = frozenset({"async", "await"})
TWINS = {
    "AsyncFeedbackMeshClient": "FeedbackMeshClient",
    "AsyncBatcher": "Batcher",
    "AsyncChannel": "SyncChannel",
    "AsyncInterceptor": "SyncInterceptor",
    "AsyncUnary": "SyncUnary",
    "AsyncIterator": "Iterator",
    "AsyncGenerator": "Generator",
    "async_channel": "sync_channel",
    "async_sleep": "sleep",
    "__aenter__": "__enter__",
    "__aexit__": "__exit__",
}
# The generated stubs' twins: FeedbackServiceAsyncStub -> FeedbackServiceStub.
STUB_TWIN = re.compile(r"^(\w+Service)AsyncStub$")


def sync_source(async_source: str) -> str:
    """The blocking client's source: ``aio.py`` without ``async`` and ``await``, each Async
    twin name renamed to its Sync one, then import-sorted and formatted by ruff with the
    repository's settings; so the client's calls are written once."""
    edits: list[tuple[int, int, str]] = []
    line_starts = [0]
    for line in io.StringIO(async_source):
        line_starts.append(line_starts[-1] + len(line))
    for token in tokenize.generate_tokens(io.StringIO(async_source).readline):
        if token.type != tokenize.NAME:
            continue
        start = line_starts[token.start[0] - 1] + token.start[1]
        end = line_starts[token.end[0] - 1] + token.end[1]
        if token.string in DROPPED:
            edits.append((start, end + (async_source[end : end + 1] == " "), ""))
        elif token.string in TWINS:
            edits.append((start, end, TWINS[token.string]))
        elif match := STUB_TWIN.match(token.string):
            edits.append((start, end, f"{match.group(1)}Stub"))
    text = async_source
    for start, end, replacement in reversed(edits):
        text = text[:start] + replacement + text[end:]
    # ruff sorts the renamed imports and turns the loops that re-yield into `yield from`.
    fixes = ["--fix", "--unsafe-fixes", "--select", "I,UP028", "--exit-zero"]
    return _ruff(_ruff(HEADER + text, "check", *fixes), "format")


def _ruff(source: str, *arguments: str) -> str:
    command = [sys.executable, "-m", "ruff", *arguments, "--quiet"]
    command += ["--config", str(REPO / "pyproject.toml"), "--stdin-filename", str(SYNC_SOURCE), "-"]
    done = subprocess.run(command, input=source, capture_output=True, text=True, check=True)
    return done.stdout


def generate(out: Path, proto_root: Path = PROTO_ROOT) -> list[Path]:
    """Writes all generated files under ``out``; returns their paths relative to it."""
    python_out = out / PYTHON_ROOT
    python_out.mkdir(parents=True, exist_ok=True)
    outs = [f"--python_out={python_out}", f"--pyi_out={python_out}"]
    # Concrete servicer bases, as grpc's are: a servicer may leave methods UNIMPLEMENTED.
    mypy_grpc = f"--mypy_grpc_out=quiet,generate_concrete_servicer_stubs:{python_out}"
    outs += [f"--grpc_python_out={python_out}", mypy_grpc]
    _protoc(proto_root, [f"--plugin=protoc-gen-mypy_grpc={mypy_grpc_plugin()}", *outs])
    for proto in proto_files(proto_root):
        # feedbackmesh/<svc>/v1/ and feedbackmesh/<svc>/ become regular packages
        # (mypy and setuptools need them); feedbackmesh/__init__.py is hand-written.
        version_dir = (python_out / proto).parent
        for package_dir in (version_dir, version_dir.parent):
            (package_dir / "__init__.py").touch()
    # The blocking client, derived from the asyncio one (read from this repository).
    sync_client = out / SYNC_SOURCE
    sync_client.parent.mkdir(parents=True, exist_ok=True)
    sync_client.write_text(sync_source((REPO / ASYNC_SOURCE).read_text()))
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
