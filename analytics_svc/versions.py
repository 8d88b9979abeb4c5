"""Reading a tenant's data version (the Redis layout: mesh_runtime/data_versions.py).

Every request reads it from Redis (one MGET), never from memory fed by pub/sub: a
message lost while a replica was disconnected, starting or restarting can therefore not
leave it serving an old version. Redis is trusted only while the ingest writer holds its
lease; otherwise (Redis down, no writer running) the version comes from ClickHouse's
durable record and answers are not cached.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from redis.exceptions import RedisError

from mesh_runtime.data_versions import DataVersionKeys, decode_state

if TYPE_CHECKING:
    import redis.asyncio as aioredis

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Snapshot:
    version: int
    # Redis is trusted (the writer's lease is held) ...
    leased: bool
    # ... and no rows of the tenant are landing right now.
    settled: bool

    @property
    def trusted(self) -> bool:
        """An answer computed between two equal trusted snapshots is exactly this
        version's."""
        return self.leased and self.settled


class VersionReader:
    """``durable`` reads ClickHouse's record; without ``redis`` it is the only source (and
    nothing is ever cached)."""

    def __init__(
        self,
        durable: Callable[[str], Awaitable[int]],
        redis: aioredis.Redis | None = None,
        keys: DataVersionKeys | None = None,
    ) -> None:
        self._durable = durable
        self._redis = redis
        self._keys = keys
        self._warned = False

    async def read(self, tenant_id: str) -> Snapshot:
        if self._redis is None or self._keys is None:
            return Snapshot(await self._durable(tenant_id), leased=False, settled=True)
        try:
            lease, raw = await self._redis.mget(self._keys.lease, self._keys.tenant(tenant_id))
        except (RedisError, OSError) as exc:
            if not self._warned:
                logger.warning("cannot read data versions from redis: %s", exc)
                self._warned = True
            return Snapshot(await self._durable(tenant_id), leased=False, settled=True)
        self._warned = False
        if lease is None:
            return Snapshot(await self._durable(tenant_id), leased=False, settled=True)
        state = decode_state(raw)
        return Snapshot(state.committed, leased=True, settled=state.settled)

    async def wait_settled(self, tenant_id: str, timeout: float) -> Snapshot:
        """Polls until no rows of the tenant are landing (an insert takes milliseconds to
        a few seconds), or ``timeout``; returns the last snapshot."""
        deadline = time.monotonic() + timeout
        delay = 0.005
        while True:
            snapshot = await self.read(tenant_id)
            if snapshot.settled or time.monotonic() + delay > deadline:
                return snapshot
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.1)
