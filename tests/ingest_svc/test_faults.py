"""Done-when faults, each with submissions running throughout; after recovery ClickHouse
equals PostgreSQL exactly (no missing, no duplicate id, exact rollups)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from ingest_harness import Mesh, MeshFactory
from pydantic import SecretStr

from ingest_svc.outbox_client import OutboxClient
from mesh_runtime.embedded import EmbeddedValkey
from mesh_runtime.net import free_port


async def wait_until(condition: Callable[[], Awaitable[bool]], timeout: float = 60.0) -> None:
    """Returns once ``condition()`` holds (the caller then asserts it); a busy machine may
    take much longer than an idle one, so no fixed sleep decides."""
    deadline = time.monotonic() + timeout
    while True:
        if await condition() or time.monotonic() > deadline:
            return
        await asyncio.sleep(0.1)


async def wait_caught_up(mesh: Mesh, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        status = await mesh.status()
        if status.backlog == 0 or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    assert status.backlog == 0, status


async def test_redis_restart(mesh_factory: MeshFactory, tmp_path: Path) -> None:
    port = free_port()
    valkey = EmbeddedValkey(tmp_path / "valkey", port=port)
    try:
        mesh = await mesh_factory(redis_url=SecretStr(valkey.url))
        await mesh.start_ingest()
        async with mesh.submitting(per_second=150) as ids:
            await asyncio.sleep(1.0)
            assert mesh.worker is not None and mesh.worker.subscriber is not None
            assert mesh.worker.subscriber.connected
            valkey.stop()
            await asyncio.sleep(1.5)  # submissions go on: publishing fails, outbox holds them
            assert not (await mesh.status()).pubsub_connected
            valkey = EmbeddedValkey(tmp_path / "valkey", port=port)
            await asyncio.sleep(2.0)
            assert (await mesh.status()).pubsub_connected
        assert len(ids) > 100
        await wait_caught_up(mesh)
        await mesh.wait_exact()
    finally:
        valkey.stop()


async def test_pubsub_messages_dropped(mesh: Mesh) -> None:
    # A long poll interval: while unsubscribed, only the re-subscribe drain and the
    # timer recover the dropped messages.
    await mesh.start_ingest(ingest_poll_interval_seconds=5.0)
    assert mesh.worker is not None and mesh.worker.subscriber is not None
    async with mesh.submitting(per_second=150):
        await asyncio.sleep(0.8)
        mesh.worker.subscriber.pause()
        await asyncio.sleep(1.5)  # everything published now is lost to pub/sub
        assert not (await mesh.status()).pubsub_connected
        mesh.worker.subscriber.resume()
        await asyncio.sleep(1.0)
    await wait_caught_up(mesh)
    await mesh.wait_exact()


async def test_clickhouse_refusing_inserts(mesh: Mesh) -> None:
    await mesh.start_ingest()
    table = f"`{mesh.settings.clickhouse_database}`.feedback_events"
    async with mesh.submitting(per_second=150):
        await asyncio.sleep(0.8)
        # A real refusal by ClickHouse: every insert violates this constraint.
        await asyncio.to_thread(
            mesh.clickhouse.command, f"ALTER TABLE {table} ADD CONSTRAINT refuse CHECK 0"
        )

        async def refused() -> bool:
            status = await mesh.status()
            return "insert" in status.last_error and status.backlog > 0

        await wait_until(refused)
        status = await mesh.status()
        assert "insert" in status.last_error and status.backlog > 0, status
        await asyncio.to_thread(
            mesh.clickhouse.command, f"ALTER TABLE {table} DROP CONSTRAINT refuse"
        )
        await asyncio.sleep(1.0)
    await wait_caught_up(mesh)
    await mesh.wait_exact()
    assert (await mesh.status()).last_error == ""


class LossyOutbox(OutboxClient):
    """Acks lost after the insert succeeded: half never reach FeedbackService, half are
    applied but their reply is lost."""

    def __init__(self, inner: OutboxClient) -> None:
        self.__dict__.update(inner.__dict__)
        self.lossy = True
        self.calls = 0

    async def ack(self, sequences: Sequence[int]) -> int:
        if not self.lossy:
            return await super().ack(sequences)
        self.calls += 1
        if self.calls % 2 == 0:
            await super().ack(sequences)
        raise ConnectionError("ack lost")


async def test_ack_lost_after_insert(mesh: Mesh) -> None:
    await mesh.start_ingest()
    assert mesh.worker is not None
    lossy = LossyOutbox(mesh.worker.outbox)
    mesh.worker.outbox = lossy
    async with mesh.submitting(per_second=150):

        async def acks_lost() -> bool:
            return lossy.calls > 2

        await wait_until(acks_lost)
        assert lossy.calls > 2
        # Rows were inserted but their events are still unacknowledged: re-pulled.
        assert (await mesh.status()).backlog > 0
        lossy.lossy = False
        await asyncio.sleep(1.0)
    await wait_caught_up(mesh)
    await mesh.wait_exact()
