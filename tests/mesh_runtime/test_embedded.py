"""The embedded servers that `feedbackmesh up` and the harness fall back to, exercised
even when CI provides real server URLs."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import redis.asyncio as aioredis

from mesh_runtime.embedded import EmbeddedPostgres, EmbeddedValkey, socket_url


def test_socket_url_keeps_the_socket_directory() -> None:
    assert (
        socket_url("postgresql://postgres:@/postgres?host=/tmp/pg")
        == "postgresql://postgres@/postgres?host=/tmp/pg"
    )
    assert socket_url("postgresql://u:pw@db:5433/app") == "postgresql://u:pw@db:5433/app"


async def test_embedded_postgres_serves_and_keeps_data_across_restarts(
    postgres_tmp_path: Path,
) -> None:
    data_dir = postgres_tmp_path / "pg"
    server = EmbeddedPostgres(data_dir)
    dsn = server.url()
    conn = await asyncpg.connect(dsn)
    await conn.execute("CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)")
    await conn.close()
    server.stop()

    again = EmbeddedPostgres(data_dir)
    conn = await asyncpg.connect(dsn)
    try:
        assert await conn.fetchval("SELECT v FROM kept") == 42
    finally:
        await conn.close()
        again.stop()


async def test_embedded_valkey_does_pubsub(tmp_path: Path) -> None:
    server = EmbeddedValkey(tmp_path / "valkey")
    client = aioredis.Redis.from_url(server.url)
    try:
        pubsub = client.pubsub()
        await pubsub.subscribe("probe")
        await pubsub.get_message(timeout=1.0)  # the subscribe confirmation
        assert await client.publish("probe", b"hello") == 1
        message = None
        for _ in range(20):
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
            if message:
                break
            await asyncio.sleep(0.05)
        assert message is not None and message["data"] == b"hello"
        await pubsub.aclose()
    finally:
        await client.aclose()
        server.stop()
