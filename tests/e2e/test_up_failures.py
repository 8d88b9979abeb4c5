"""`feedbackmesh up` when things go wrong: a service that cannot start is reported with its
log and `up` gives up quickly (exit 1) instead of waiting out the whole timeout, and cleans
up after itself; a second `up` on the same data directory is refused in one line."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from e2e_helpers import drop_database, find_free_base_port, mesh_env

pytestmark = pytest.mark.e2e


def test_crash_looping_service_is_reported_and_up_exits(tmp_path: Path) -> None:
    env, admin_url, database = mesh_env()
    env["FEEDBACKMESH_SENTIMENT_ANALYZER"] = "no-such-analyzer"  # sentiment cannot start
    base = find_free_base_port()
    command = [sys.executable, "-m", "mesh_app.cli", "up", "--data-dir", str(tmp_path)]
    command += ["--base-port", str(base), "--timeout", "150"]
    started = time.monotonic()
    try:
        result = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=200, check=False
        )
    finally:
        if admin_url and database:
            drop_database(admin_url, database)
    elapsed = time.monotonic() - started
    assert result.returncode == 1, result.stdout + result.stderr
    # Each crash is reported with the backoff, as an orchestrator would.
    for delay in ("1s", "2s", "4s"):
        pattern = rf"sentiment \(pid \d+\) exited with code 1; restarting in {delay}"
        assert re.search(pattern, result.stdout), result.stdout
    assert "sentiment (exited 4 times while starting)" in result.stderr
    assert "unknown sentiment analyzer" in result.stderr  # the tail of its log
    assert "Traceback" not in result.stderr.split("last lines of")[0]
    assert elapsed < 100, "gave up only at the timeout"
    # Everything it started is gone: no status file, the ports are free again.
    assert not (tmp_path / "run" / "status.json").exists()
    assert (tmp_path / "logs" / "sentiment.log").exists()


def test_second_up_on_the_same_data_dir_is_refused(tmp_path: Path) -> None:
    import fcntl

    (tmp_path / "run").mkdir()
    with (tmp_path / "run" / "up.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        lock.write("4242\n")
        lock.flush()
        result = subprocess.run(
            [sys.executable, "-m", "mesh_app.cli", "up", "--data-dir", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"feedbackmesh up: another `feedbackmesh up` (pid 4242) is using {tmp_path}; "
        "stop it first or pass --data-dir"
    ]
