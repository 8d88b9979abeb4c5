"""PostgreSQL, Redis and ClickHouse for ``feedbackmesh up``: configured servers when their
URLs are set, otherwise embedded ones under the data directory (data survives restarts)."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mesh_runtime.postgres import libpq_url
from mesh_runtime.settings import Settings

logger = logging.getLogger(__name__)

EMBEDDED_DATABASE = "feedbackmesh"


@dataclass
class Stores:
    database_url: str
    redis_url: str
    clickhouse_url: str
    # Which of them `up` started itself (and prints / stops).
    embedded: list[str] = field(default_factory=list)
    _stoppers: list[Callable[[], None]] = field(default_factory=list)

    @property
    def clickhouse_embedded(self) -> bool:
        return self.clickhouse_url.startswith("chdb://")

    def stop(self) -> None:
        """Valkey first, PostgreSQL last (reverse start order)."""
        while self._stoppers:
            stopper = self._stoppers.pop()
            try:
                stopper()
            except Exception:
                logger.exception("error stopping an embedded server")


@contextmanager
def ignoring_sigint() -> Iterator[None]:
    """Start children with SIGINT blocked: Ctrl-C in the terminal then reaches `up` alone,
    which stops them in order (services drain first, storage last). Blocked, not ignored:
    Valkey and Envoy install their own SIGINT handlers, which replace an inherited SIG_IGN,
    but they inherit the blocked mask and never unblock it. SIGTERM still stops them."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def start_stores(settings: Settings, data_dir: Path, *, valkey_port: int | None) -> Stores:
    clickhouse = settings.model_copy(update={"data_dir": data_dir}).resolved_clickhouse_url()
    stores = Stores(database_url="", redis_url="", clickhouse_url=clickhouse)
    if clickhouse.startswith("chdb://"):
        stores.embedded.append("clickhouse")
    try:
        if settings.database_url is not None:
            stores.database_url = settings.database_url.get_secret_value()
        else:
            stores.database_url = _start_postgres(data_dir / "postgres", stores)
            stores.embedded.append("postgres")
        if settings.redis_url is not None:
            stores.redis_url = settings.redis_url.get_secret_value()
        else:
            stores.redis_url = _start_valkey(data_dir / "valkey", valkey_port, stores)
            stores.embedded.append("redis")
    except BaseException:
        stores.stop()
        raise
    return stores


def _start_postgres(path: Path, stores: Stores) -> str:
    from mesh_runtime.embedded import EmbeddedPostgres

    print(f"feedbackmesh up: starting embedded PostgreSQL in {path}", flush=True)
    with ignoring_sigint():
        server = EmbeddedPostgres(path)
    stores._stoppers.append(server.stop)
    admin_url = server.url("postgres")
    asyncio.run(_ensure_database(admin_url, EMBEDDED_DATABASE))
    return server.url(EMBEDDED_DATABASE)


def _start_valkey(path: Path, port: int | None, stores: Stores) -> str:
    from mesh_runtime.embedded import EmbeddedValkey

    print(f"feedbackmesh up: starting embedded Valkey in {path}", flush=True)
    with ignoring_sigint():
        server = EmbeddedValkey(path, port)
    stores._stoppers.append(server.stop)
    return server.url


async def _ensure_database(admin_url: str, name: str) -> None:
    import asyncpg

    conn: Any = await asyncpg.connect(libpq_url(admin_url))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
