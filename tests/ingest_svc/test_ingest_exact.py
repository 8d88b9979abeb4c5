"""Done-when: 1,000 feedback over tenants, days and types reach ClickHouse exactly, and
the status RPC shows the backlog rising while the worker is down, zero after catch-up."""

from __future__ import annotations

import asyncio
import time

import asyncpg
from ingest_harness import Mesh
from prometheus_client import REGISTRY


async def shift_created_at(mesh: Mesh, ids: list[int]) -> None:
    """Test-only: spread feedback over 9 days and all hours. Done while the worker is
    down, so the rows reach ClickHouse only through the outbox pull. Their events were
    stored (``payload``) at release, before the shift: clearing the payload makes the pull
    build them from the shifted feedback rows (the path of rows released before
    migration 0003)."""
    dsn = mesh.settings.database_url.get_secret_value().replace("+asyncpg", "")  # type: ignore[union-attr]
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            """UPDATE feedback SET created_at = created_at - (id % 9) * interval '1 day'
                   - (id % 24) * interval '1 hour' - (id % 7) * interval '1 minute'
               WHERE id = ANY($1::bigint[])""",
            ids,
        )
        await conn.execute(
            "UPDATE feedback_outbox SET payload = NULL WHERE feedback_id = ANY($1::bigint[])", ids
        )
    finally:
        await conn.close()


async def wait_for(predicate, timeout: float = 30.0, interval: float = 0.2):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(interval)


async def test_thousand_feedback_exact_and_backlog(mesh: Mesh) -> None:
    def pubsub_rows() -> float:
        return REGISTRY.get_sample_value("ingest_batch_rows_sum", {"path": "pubsub"}) or 0.0

    before = pubsub_rows()
    await mesh.start_ingest()
    await mesh.submit(300)
    await mesh.wait_exact()
    assert pubsub_rows() > before  # the live path is pub/sub; the outbox is the backstop
    assert mesh.worker is not None and mesh.worker.subscriber is not None
    subscriber = mesh.worker.subscriber

    # The worker goes down; the status RPC stays up and sees the backlog grow.
    await mesh.worker.stop()
    backlogs = []
    down_ids: list[int] = []
    for _ in range(7):
        down_ids += await mesh.submit(100)
        backlogs.append((await mesh.status()).backlog)

    async def released_all() -> bool:
        return (await mesh.status()).backlog >= len(down_ids)

    assert await wait_for(released_all)
    backlogs.append((await mesh.status()).backlog)
    assert backlogs == sorted(backlogs) and backlogs[-1] > backlogs[0], backlogs
    status = await mesh.status()
    assert status.lag_seconds > 0 and not status.pubsub_connected
    await shift_created_at(mesh, down_ids)

    mesh.worker.start(subscriber)

    async def caught_up() -> bool:
        s = await mesh.status()
        return s.backlog == 0 and s.lag_seconds == 0 and s.pubsub_connected

    assert await wait_for(caught_up)
    await mesh.wait_exact()
    status = await mesh.status()
    assert status.rows_in_clickhouse >= 1000
    assert status.rows_ingested >= 1000 and status.batches_ingested > 0
    assert status.last_error == ""
