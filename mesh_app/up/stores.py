"""PostgreSQL, Redis and ClickHouse for ``feedbackmesh up``: configured servers when their
URLs are set, otherwise embedded ones under the data directory (data survives restarts).

Embedded PostgreSQL and Valkey run in the foreground as children of ``up``, supervised
like the services (restarted with backoff when they die or stop answering); their URLs do
not change across restarts, so the services simply reconnect.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mesh_app.up.liveness import (
    LivenessCheck,
    LivenessPolicy,
    Probe,
    postgres_probe,
    valkey_probe,
)
from mesh_app.up.supervisor import ManagedProcess, server_launcher, stop_all
from mesh_runtime.embedded import ServerCommand, postgres_command, valkey_command
from mesh_runtime.net import free_port
from mesh_runtime.postgres import libpq_url, with_database
from mesh_runtime.settings import Settings

logger = logging.getLogger(__name__)

EMBEDDED_DATABASE = "feedbackmesh"
STOP_TIMEOUT_SECONDS = 15.0
_POLL_SECONDS = 0.2


class StoreError(Exception):
    """An embedded server did not come up (the message names its log)."""


@dataclass
class Stores:
    database_url: str
    redis_url: str
    clickhouse_url: str
    # Which of them `up` started itself (and prints / stops).
    embedded: list[str] = field(default_factory=list)
    # The embedded servers, in start order.
    processes: list[ManagedProcess] = field(default_factory=list)

    @property
    def clickhouse_embedded(self) -> bool:
        return self.clickhouse_url.startswith("chdb://")

    def status(self) -> dict[str, object]:
        return {proc.name: proc.status() for proc in self.processes}

    def stop(self) -> None:
        """Valkey first, PostgreSQL last (reverse start order)."""
        for proc in reversed(self.processes):
            stop_all([proc], timeout=STOP_TIMEOUT_SECONDS)


@dataclass(frozen=True)
class StoreSupervision:
    """How `up` runs its embedded servers: where their files go and how they are probed."""

    data_dir: Path
    logs_dir: Path
    run_dir: Path
    liveness: LivenessPolicy
    probes: Executor
    timeout: float
    report: Callable[[str], None] = print


@contextmanager
def ignoring_sigint() -> Iterator[None]:
    """Start children with SIGINT blocked: Ctrl-C in the terminal then reaches `up` alone,
    which stops them in order (services drain first, storage last). Blocked, not ignored:
    Envoy installs its own SIGINT handler, which replaces an inherited SIG_IGN, but it
    inherits the blocked mask and never unblocks it. SIGTERM still stops it."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def start_stores(
    settings: Settings, supervision: StoreSupervision, *, valkey_port: int | None
) -> Stores:
    data_dir = supervision.data_dir
    clickhouse = settings.model_copy(update={"data_dir": data_dir}).resolved_clickhouse_url()
    stores = Stores(database_url="", redis_url="", clickhouse_url=clickhouse)
    if clickhouse.startswith("chdb://"):
        stores.embedded.append("clickhouse")
    try:
        if settings.database_url is not None:
            stores.database_url = settings.database_url.get_secret_value()
        else:
            stores.database_url = _start_postgres(supervision, stores)
            stores.embedded.append("postgres")
        if settings.redis_url is not None:
            stores.redis_url = settings.redis_url.get_secret_value()
        else:
            stores.redis_url = _start_valkey(supervision, valkey_port or free_port(), stores)
            stores.embedded.append("redis")
    except BaseException:
        stores.stop()
        raise
    return stores


def _start_postgres(supervision: StoreSupervision, stores: Stores) -> str:
    path = supervision.data_dir / "postgres"
    print(f"feedbackmesh up: starting embedded PostgreSQL in {path}", flush=True)
    command = postgres_command(path)
    socket_dir = Path(command.url.split("host=", 1)[1])
    proc = _managed("postgres", command, signal.SIGINT, supervision, stores)
    proc.liveness = _liveness(postgres_probe(socket_dir / ".s.PGSQL.5432"), supervision)
    proc.start()
    url = with_database(command.url, EMBEDDED_DATABASE)
    _wait(proc, supervision.timeout, lambda: asyncio.run(_ensure_database(command.url)))
    return url


def _start_valkey(supervision: StoreSupervision, port: int, stores: Stores) -> str:
    path = supervision.data_dir / "valkey"
    print(f"feedbackmesh up: starting embedded Valkey in {path}", flush=True)
    command = valkey_command(path, port)
    proc = _managed("valkey", command, signal.SIGTERM, supervision, stores)
    proc.liveness = _liveness(valkey_probe(port), supervision)
    proc.start()
    probe = valkey_probe(port)
    _wait(proc, supervision.timeout, lambda: probe(1.0))
    return command.url


def _managed(
    name: str,
    command: ServerCommand,
    stop_signal: signal.Signals,
    supervision: StoreSupervision,
    stores: Stores,
) -> ManagedProcess:
    log = supervision.logs_dir / f"{name}.log"
    proc = ManagedProcess(
        name,
        server_launcher(command, stop_signal, log),
        log,
        supervision.run_dir,
        stop_signal=stop_signal,
        report=supervision.report,
    )
    stores.processes.append(proc)
    return proc


def _liveness(probe: Probe, supervision: StoreSupervision) -> LivenessCheck:
    return LivenessCheck(probe, supervision.liveness, supervision.probes)


def _wait(proc: ManagedProcess, timeout: float, ready: Callable[[], bool]) -> None:
    """Until ``ready()``; a crash meanwhile is restarted with backoff, as later on."""
    deadline = time.monotonic() + timeout
    while True:
        proc.check()
        try:
            if proc.pid is not None and ready():
                return
        except Exception as exc:
            logger.debug("%s not ready yet: %s", proc.name, exc)
        if time.monotonic() > deadline:
            raise StoreError(
                f"embedded {proc.name} did not come up in {timeout:g}s; see {proc.log_path}"
            )
        time.sleep(_POLL_SECONDS)


async def _ensure_database(admin_url: str) -> bool:
    import asyncpg

    conn: Any = await asyncpg.connect(libpq_url(admin_url), timeout=2.0)
    try:
        exists = await conn.fetchval(
            "SELECT 1 FROM pg_database WHERE datname = $1", EMBEDDED_DATABASE
        )
        if not exists:
            await conn.execute(f'CREATE DATABASE "{EMBEDDED_DATABASE}"')
    finally:
        await conn.close()
    return True
