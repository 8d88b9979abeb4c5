"""The whole mesh (all four services, real PostgreSQL, Redis and chDB) on an event loop of
its own thread, behind a real Envoy: hostile-input tests drive it synchronously over HTTP
and gRPC while the services keep answering Envoy's health checks."""

from __future__ import annotations

import asyncio
import threading
import time
import urllib.request
import uuid
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
from pydantic import SecretStr

from feedback_svc.migrations import migrate_database
from gateway import DEFAULT_DESCRIPTOR
from gateway.config import render_envoy_config
from gateway.envoy import start_envoy, stop_envoy, wait_until_ready
from ingest_svc.schema import migrate_clickhouse
from mesh_app import registry
from mesh_app.targets import create_targets
from mesh_runtime.net import free_port
from mesh_runtime.postgres import libpq_url, with_database
from mesh_runtime.resources import Resources
from mesh_runtime.server import MeshServer
from mesh_runtime.settings import Settings

T = TypeVar("T")
CALL_TIMEOUT_SECONDS = 60.0


@dataclass
class HostileMesh:
    settings: Settings
    grpc_addr: str
    gateway_url: str
    admin_url: str
    envoy_log: Path
    loop: asyncio.AbstractEventLoop

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = CALL_TIMEOUT_SECONDS) -> T:
        """Runs ``coro`` on the mesh's loop (its pools live there) and returns the result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def fetchval(self, sql: str, *args: object) -> Any:
        """One value from the mesh's PostgreSQL database."""

        async def query() -> Any:
            assert self.settings.database_url is not None
            url = libpq_url(self.settings.database_url.get_secret_value())
            connection = await asyncpg.connect(url)
            try:
                return await connection.fetchval(sql, *args)
            finally:
                await connection.close()

        return self.run(query())

    def feedback_count(self, tenant_id: str) -> int:
        return int(self.fetchval("SELECT count(*) FROM feedback WHERE tenant_id = $1", tenant_id))


def _cluster_healthy(admin_url: str, cluster: str) -> bool:
    with urllib.request.urlopen(f"{admin_url}/clusters", timeout=2) as response:
        text = response.read().decode()
    return any(
        line.startswith(f"{cluster}::") and line.endswith("::health_flags::healthy")
        for line in text.splitlines()
    )


def wait_until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def _admin(server_url: str, sql: str) -> None:
    connection = await asyncpg.connect(server_url)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@contextmanager
def hostile_mesh(settings: Settings, tmp: Path, server_url: str) -> Iterator[HostileMesh]:
    """Serves every target in one server (as ``serve all`` does) and Envoy in front.

    The mesh gets its own PostgreSQL database (on ``server_url``), ClickHouse database and
    Redis channel, so its background workers never touch what other tests count."""
    database = f"fm_hostile_{uuid.uuid4().hex[:10]}"
    settings = settings.model_copy(
        update={
            "database_url": SecretStr(with_database(server_url, database)),
            "clickhouse_database": database,
            "redis_channel": f"feedback.submitted.{database}",
        }
    )
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    stop = asyncio.Event()
    box: list[MeshServer | BaseException] = []

    async def serve() -> None:
        try:
            await _admin(server_url, f'CREATE DATABASE "{database}"')
            await migrate_database(settings)
            await asyncio.to_thread(migrate_clickhouse, settings)
            targets = await create_targets(list(registry.SERVICE_NAMES), local, resources)
            server = MeshServer(local, targets, port=port, metrics_port=None, host="127.0.0.1")
            await server.start()
            box.append(server)
        except BaseException as exc:
            box.append(exc)
            raise
        finally:
            ready.set()
        await stop.wait()
        await server.stop(grace=1.0, delay=0)
        await resources.close()
        await _admin(server_url, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')

    port = free_port()
    addr = f"127.0.0.1:{port}"
    local = settings.with_peers(**dict.fromkeys(registry.SERVICE_NAMES, addr))
    resources = Resources(local)
    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(120), "the mesh did not start"
    if isinstance(box[0], BaseException):
        raise box[0]
    gateway_settings = settings.model_copy(
        update={
            "gateway_host": "127.0.0.1",
            "gateway_port": free_port(),
            "envoy_admin_port": free_port(),
        }
    )
    config = render_envoy_config(
        gateway_settings,
        descriptor=DEFAULT_DESCRIPTOR.read_bytes(),
        upstreams=registry.upstreams(dict.fromkeys(registry.SERVICE_NAMES, addr)),
    )
    config_path = tmp / "envoy.json"
    config_path.write_text(config)
    log_path = tmp / "envoy.log"
    proc = start_envoy(config_path, log_path, log_level="warn")
    try:
        wait_until_ready(proc, gateway_settings.envoy_admin_port, log_path=log_path, timeout=30)
        admin_url = f"http://127.0.0.1:{gateway_settings.envoy_admin_port}"
        for upstream in registry.upstreams(dict.fromkeys(registry.SERVICE_NAMES, addr)):
            wait_until(
                lambda u=upstream: _cluster_healthy(admin_url, u.cluster),
                30,
                f"{upstream.cluster} healthy",
            )
        yield HostileMesh(
            settings=local,
            grpc_addr=addr,
            gateway_url=f"http://127.0.0.1:{gateway_settings.gateway_port}",
            admin_url=admin_url,
            envoy_log=log_path,
            loop=loop,
        )
    finally:
        stop_envoy(proc)
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
        loop.close()
