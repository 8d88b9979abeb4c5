"""One real ``feedbackmesh up`` per test module (a subprocess, as a user runs it), on free
ports and a temporary data directory. PostgreSQL and Redis are the machine's servers when
FEEDBACKMESH_TEST_DATABASE_URL / _REDIS_URL are set (a fresh database, a unique channel),
otherwise ``up`` starts its embedded ones; ClickHouse is always embedded chDB."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

# --import-mode=importlib puts no test directory on sys.path; the helpers sit next to this file.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from e2e_helpers import (
    Mesh,
    drop_database,
    find_free_base_port,
    mesh_env,
    read_status,
)

START_TIMEOUT_SECONDS = 180.0
STOP_TIMEOUT_SECONDS = 45.0


@pytest.fixture(scope="module")
def mesh(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Mesh]:
    data_dir = tmp_path_factory.mktemp("mesh")
    env, admin_url, database = mesh_env()
    # A test module's MESH_ENV (e.g. JSON logs) goes on top of the test environment.
    env.update(getattr(request.module, "MESH_ENV", {}))
    base = find_free_base_port()
    output = data_dir / "up.out"
    command = [sys.executable, "-m", "mesh_app.cli", "up", "--data-dir", str(data_dir)]
    command += ["--base-port", str(base), "--timeout", str(START_TIMEOUT_SECONDS - 20)]
    with output.open("wb") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        status = _wait_ready(proc, data_dir, output)
        db_url = env.get("FEEDBACKMESH_DATABASE_URL") or str(status["database_url"])
        yield Mesh(
            data_dir=data_dir,
            gateway=str(status["gateway_url"]),
            admin=str(status["envoy_admin_url"]),
            database_url=db_url,
            proc=proc,
        )
    finally:
        _stop(proc, data_dir)
        if admin_url and database:
            drop_database(admin_url, database)


def _wait_ready(proc: subprocess.Popen[bytes], data_dir: Path, output: Path) -> dict[str, object]:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"`feedbackmesh up` exited with {proc.returncode}:\n{output.read_text()}")
        status = read_status(data_dir)
        if status.get("ready"):
            return status
        time.sleep(0.25)
    pytest.fail(f"`feedbackmesh up` not ready in {START_TIMEOUT_SECONDS}s:\n{output.read_text()}")


def _stop(proc: subprocess.Popen[bytes], data_dir: Path) -> None:
    """SIGTERM (the clean stop under test); if `up` hangs, kill it and whatever it started."""
    pids = _all_pids(data_dir)
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_TIMEOUT_SECONDS)
            return
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _all_pids(data_dir: Path) -> list[int]:
    status = read_status(data_dir)
    procs = dict(status.get("processes") or {})
    entries = [*procs.values(), status.get("envoy") or {}]
    return [int(e["pid"]) for e in entries if isinstance(e, dict) and e.get("pid")]
