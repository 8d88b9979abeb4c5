"""The data version publication on real Redis: the pending/committed bracket, the change
messages, repair after Redis lost the keys, committed versions never moving back, and
the fence: with Redis unreachable a writer proceeds only once its lease is gone."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator

import pytest_asyncio
import redis.asyncio as aioredis

from ingest_svc.versions import _SCRIPT, DataVersions, VersionPublisher
from mesh_runtime.data_versions import DataVersionKeys, VersionState, decode_changes, decode_state
from mesh_runtime.net import free_port
from mesh_runtime.settings import Settings


@pytest_asyncio.fixture(loop_scope="session")
async def redis(settings: Settings) -> AsyncIterator[aioredis.Redis]:
    assert settings.redis_url is not None
    client = aioredis.Redis.from_url(settings.redis_url.get_secret_value())
    yield client
    await client.aclose()


def _keys(settings: Settings) -> DataVersionKeys:
    return DataVersionKeys(
        settings.model_copy(update={"clickhouse_database": f"versions_{uuid.uuid4().hex[:8]}"})
    )


async def _state(redis: aioredis.Redis, keys: DataVersionKeys, tenant: str) -> VersionState:
    return decode_state(await redis.get(keys.tenant(tenant)))


async def test_announce_then_commit_brackets_the_rows(
    redis: aioredis.Redis, settings: Settings
) -> None:
    keys = _keys(settings)
    versions = DataVersions(VersionPublisher(redis, keys, lease_seconds=5))
    versions.load({"a": 10}, floor=10)
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(keys.channel)
    version = versions.next_version()
    assert version > 10
    await versions.announce({"a", "b"}, version)
    assert await redis.exists(keys.lease)
    assert await _state(redis, keys, "a") == VersionState(10, version)
    assert await _state(redis, keys, "b") == VersionState(0, version)
    await versions.commit({"a", "b"}, version)
    assert await _state(redis, keys, "a") == VersionState(version, version)
    changes: list[dict[str, int]] = []
    deadline = time.monotonic() + 10
    while not changes or "b" not in changes[-1]:
        assert time.monotonic() < deadline
        message = await pubsub.get_message(timeout=1.0)
        if message is not None:
            changes.append(decode_changes(message["data"]))
    assert changes[-1] == {"a": version, "b": version}
    assert versions.next_version() > version
    await pubsub.aclose()


async def test_keys_lost_by_redis_are_written_again(
    redis: aioredis.Redis, settings: Settings
) -> None:
    keys = _keys(settings)
    publisher = VersionPublisher(redis, keys, lease_seconds=5)
    versions = DataVersions(publisher)
    versions.load({"a": 7, "b": 9}, floor=9)
    assert await publisher.publish({"a": 7, "b": 9})
    # A Redis restart without persistence: everything gone, then a new lease by someone.
    await redis.delete(keys.lease, keys.tenant("a"), keys.tenant("b"))
    await redis.set(keys.lease, "someone-else")
    assert await publisher.publish({"a": 7, "b": 9})  # a heartbeat
    assert await _state(redis, keys, "a") == VersionState(7, 7)
    assert await _state(redis, keys, "b") == VersionState(9, 9)
    assert await redis.get(keys.lease) != b"someone-else"


async def test_committed_versions_never_move_back(
    redis: aioredis.Redis, settings: Settings
) -> None:
    keys = _keys(settings)
    assert await VersionPublisher(redis, keys, 5).publish({"a": 20})
    stale = VersionPublisher(redis, keys, 5)  # a writer that knows less
    assert await stale.publish({"a": 12})
    assert await _state(redis, keys, "a") == VersionState(20, 20)


async def test_a_late_script_does_nothing(redis: aioredis.Redis, settings: Settings) -> None:
    keys = _keys(settings)
    script = redis.register_script(_SCRIPT)
    past = time.time_ns() // 1000 - 5_000_000
    outcome, _ = await script(
        keys=[keys.lease, keys.tenant("a")],
        args=["", "lease", 5000, past, keys.channel, "", 3, 3],
    )
    assert outcome == -1
    assert not await redis.exists(keys.lease, keys.tenant("a"))


async def test_without_redis_the_writer_waits_until_its_lease_expired(
    redis: aioredis.Redis, settings: Settings
) -> None:
    keys = _keys(settings)
    assert settings.redis_url is not None
    client = aioredis.Redis.from_url(settings.redis_url.get_secret_value(), socket_timeout=1)
    publisher = VersionPublisher(client, keys, lease_seconds=1.0)
    versions = DataVersions(publisher)
    versions.load({}, floor=0)
    assert await publisher.publish({})
    assert await redis.exists(keys.lease)
    # Redis becomes unreachable for this writer (readers may still see its lease).
    reachable = client.connection_pool
    client.connection_pool = aioredis.ConnectionPool(port=free_port(), socket_timeout=1)
    await versions.announce({"a"}, versions.next_version())
    # Only now may the rows become visible: no reader can still trust the lease.
    assert not await redis.exists(keys.lease)
    await client.connection_pool.disconnect()
    await reachable.disconnect()
