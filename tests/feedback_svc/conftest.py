"""Fixtures of the feedback tests: a migrated database, a feedback server wired to a fake
SentimentService, and a Redis subscriber that collects published events."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest_asyncio
import redis.asyncio as aioredis

# --import-mode=importlib puts no test directory on sys.path; the helpers sit next to this file.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from feedback_helpers import (
    FeedbackEnv,
    Subscriber,
    start_fake_sentiment,
    start_feedback,
)

from feedback_svc.migrations import migrate_database
from mesh_runtime.settings import Settings


@pytest_asyncio.fixture(scope="session", loop_scope="session", autouse=True)
async def migrated(settings: Settings) -> Settings:
    await migrate_database(settings)
    return settings


@pytest_asyncio.fixture(loop_scope="session")
async def db(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    dsn = settings.database_url.get_secret_value().replace("+asyncpg", "")  # type: ignore[union-attr]
    connection = await asyncpg.connect(dsn)
    for name in ("json", "jsonb"):
        await connection.set_type_codec(
            name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )
    yield connection
    await connection.close()


@pytest_asyncio.fixture(loop_scope="session")
async def subscriber(settings: Settings) -> AsyncIterator[Subscriber]:
    client = aioredis.Redis.from_url(settings.redis_url.get_secret_value())  # type: ignore[union-attr]
    pubsub = client.pubsub()
    await pubsub.subscribe(settings.redis_channel)
    collected = Subscriber()

    async def pump() -> None:
        async for message in pubsub.listen():
            if message["type"] == "message":
                collected.messages.append(json.loads(message["data"]))

    task = asyncio.create_task(pump())
    await asyncio.sleep(0.05)
    yield collected
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await pubsub.aclose()
    await client.aclose()


@pytest_asyncio.fixture(loop_scope="session")
async def env(
    serve: Any, settings: Settings, token_for: Callable[..., str]
) -> AsyncIterator[FeedbackEnv]:
    """A feedback server wired to a (fake) sentiment server, both on ephemeral ports."""
    sentiment_server, servicer = await start_fake_sentiment(settings)
    local = settings.with_peers(sentiment=f"127.0.0.1:{sentiment_server.port}")
    feedback = await start_feedback(serve, local, token_for, servicer)
    yield feedback
    await feedback.channel.close()
    await sentiment_server.stop(grace=0.5)
