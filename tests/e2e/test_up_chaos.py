"""The short chaos test (issue H): a real `feedbackmesh up` with its embedded PostgreSQL and
Valkey, under load from clients that retry with the same request_id. Both stores are
killed with SIGKILL and come back on their own (before, every submit failed until a person
restarted `up`); a SIGSTOPped service is noticed and replaced; afterwards PostgreSQL rows =
acknowledged request_ids = ClickHouse rows and the rollups equal PostgreSQL. `up` reports
each restart while it runs, also into a file; its logs stay under their size cap.

The full table (every child, a restart of `up`) is bench/chaos_bench.py.
"""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Callable

import pytest
from chaos_helpers import RetryingLoad, hit, settle
from e2e_helpers import Mesh, mesh_env

pytestmark = pytest.mark.e2e

LOG_CAP_BYTES = 64 * 1024


@pytest.fixture(scope="module")
def mesh(start_up: Callable[[dict[str, str]], Mesh]) -> Mesh:
    env, _, _ = mesh_env(embedded=True)
    env.update(
        FEEDBACKMESH_UP_LIVENESS_INTERVAL_SECONDS="1",
        FEEDBACKMESH_UP_LIVENESS_TIMEOUT_SECONDS="2",
        FEEDBACKMESH_UP_LOG_MAX_BYTES=str(LOG_CAP_BYTES),
        FEEDBACKMESH_UP_LOG_BACKUPS="2",
    )
    return start_up(env)


@pytest.fixture(scope="module")
def load(mesh: Mesh) -> RetryingLoad:
    return RetryingLoad(mesh.gateway, clients=4)


def _more_acked(load: RetryingLoad, count: int, timeout: float = 120.0) -> None:
    target = len(load.acked) + count
    deadline = time.monotonic() + timeout
    while len(load.acked) < target:
        assert time.monotonic() < deadline, f"only {len(load.acked)} acknowledged"
        time.sleep(0.1)


def test_killed_postgres_and_valkey_come_back_and_counts_stay_exact(
    mesh: Mesh, load: RetryingLoad
) -> None:
    with load.running():
        _more_acked(load, 30)
        postgres = mesh.status()["stores"]["postgres"]["pid"]
        hit(mesh, "postgres", signal.SIGKILL)
        _more_acked(load, 30)
        # Reported while `up` runs, although its output is a file (block-buffered before).
        pattern = rf"postgres \(pid {postgres}\) was killed by SIGKILL; restarting in 1s"
        assert re.search(pattern, mesh.output()), mesh.output()
        hit(mesh, "valkey", signal.SIGKILL)
        _more_acked(load, 30)
    counts = settle(mesh, load)
    assert counts.exact, counts
    assert not load.gave_up
    assert counts.postgres >= 90
    stores = mesh.status()["stores"]
    assert stores["postgres"]["restarts"] == 1 and stores["valkey"]["restarts"] == 1


def test_a_stopped_service_is_killed_and_replaced(mesh: Mesh, load: RetryingLoad) -> None:
    stalled = mesh.process("sentiment")["pid"]
    hit(mesh, "sentiment", signal.SIGSTOP)
    assert re.search(
        rf"sentiment \(pid {stalled}\) did not answer its health check 3 times in a row",
        mesh.output(),
    ), mesh.output()
    with load.running():
        _more_acked(load, 20)
    counts = settle(mesh, load)
    assert counts.exact, counts


def test_logs_stay_under_their_cap(mesh: Mesh) -> None:
    logs = mesh.data_dir / "logs"
    time.sleep(2.5)  # one rotation check after the last request
    assert (logs / "envoy.log.1").exists(), sorted(p.name for p in logs.iterdir())
    assert not (logs / "envoy.log.3").exists()
    for log in logs.glob("*.log"):
        # The cap, plus what a child may write between two checks.
        assert log.stat().st_size <= 2 * LOG_CAP_BYTES, (log, log.stat().st_size)
