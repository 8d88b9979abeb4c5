"""The per-tenant data versions of the ingest writer, and their publication on Redis.

Why readers can trust them (the Redis layout: mesh_runtime/data_versions.py):
1. Versions come from a clock that only moves forward: the wall clock in microseconds,
   or one more than the highest version ever used (loaded from ClickHouse at start-up),
   whichever is larger. So a version is never reused, across restarts too.
2. Before rows become visible the tenant's state is set to "committed pending", after
   to "pending pending" (plus a change message). A reader that sees the same settled
   state before and after its query knows the answer is exactly that version's.
3. The writer holds a lease in Redis while Redis holds all of its versions. Each write
   (one script) first checks that the lease is still the one this writer set; if not,
   Redis lost data (a restart) or another writer ran, and every version is written
   again. When Redis cannot be reached the writer waits until its lease has surely
   expired before inserting: readers then stop trusting Redis until the writer
   re-publishes. A script that reaches Redis after its deadline does nothing, so a
   delayed write cannot revive the lease behind the writer's back.
4. Committed versions in Redis never move backwards (the script keeps the larger).
One writer at a time is assumed (the ingest writer is a singleton); a second one can
delay caching but not make a cached answer stale.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import uuid
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError

from ingest_svc import metrics
from mesh_runtime.data_versions import DataVersionKeys, encode_changes

if TYPE_CHECKING:
    import redis.asyncio as aioredis

logger = logging.getLogger(__name__)

# KEYS[1]: the lease, KEYS[2..]: tenant keys. ARGV: the lease value expected ('' = any),
# the new lease value, its TTL (ms), the deadline (server clock, us), the channel, the
# message ('' = none), then per tenant key its committed and pending version.
_SCRIPT = """
local now = redis.call('TIME')
local micros = tonumber(now[1]) * 1000000 + tonumber(now[2])
if micros > tonumber(ARGV[4]) then return {-1, micros} end
if ARGV[1] ~= '' and redis.call('GET', KEYS[1]) ~= ARGV[1] then return {0, micros} end
for i = 2, #KEYS do
  local committed = tonumber(ARGV[5 + 2 * (i - 1)])
  local pending = tonumber(ARGV[6 + 2 * (i - 1)])
  local old = redis.call('GET', KEYS[i])
  if old then
    local gap = string.find(old, ' ')
    committed = math.max(committed, tonumber(string.sub(old, 1, gap - 1)))
  end
  redis.call('SET', KEYS[i], string.format('%.0f %.0f', committed, math.max(pending, committed)))
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
if ARGV[6] ~= '' then redis.call('PUBLISH', ARGV[5], ARGV[6]) end
return {1, micros}
"""
_OK, _LEASE_LOST, _TOO_LATE = 1, 0, -1
# Clock offset and round-trip uncertainty added to every lease bound.
_MARGIN = 0.25


def _micros_now() -> int:
    return time.time_ns() // 1000


class VersionPublisher:
    """Writes the writer's versions to Redis under its lease (see the module doc)."""

    def __init__(self, redis: aioredis.Redis, keys: DataVersionKeys, lease_seconds: float):
        self._script = redis.register_script(_SCRIPT)
        self._keys = keys
        self._ttl = max(lease_seconds, 0.5)
        # How long a write may take to reach Redis and still run.
        self._budget = min(1.0, self._ttl / 2)
        self._writer_id = uuid.uuid4().hex
        self._leases = itertools.count()
        self._lease = ""  # the lease value of this writer's last successful write
        self._dirty = True  # Redis may lack some of this writer's versions
        self._fence_until = 0.0  # monotonic: no lease this writer set lives past it
        self._offset_us = 0  # Redis clock minus ours, from the last reply
        self._in_flight: dict[str, int] = {}
        self._lock = asyncio.Lock()

    @property
    def heartbeat_seconds(self) -> float:
        return self._ttl / 3

    async def announce(
        self, tenants: Collection[str], version: int, committed: Mapping[str, int]
    ) -> None:
        """Before rows of ``tenants`` at ``version`` become visible."""
        for tenant in tenants:
            self._in_flight[tenant] = version
        if not await self.publish(committed, tenants):
            # Readers may still trust the lease: the rows must wait until it is gone.
            delay = self._fence_until - time.monotonic()
            if delay > 0:
                logger.warning("redis unreachable: inserting unannounced in %.1fs", delay)
                await asyncio.sleep(delay)

    async def commit(
        self, tenants: Collection[str], version: int, committed: Mapping[str, int]
    ) -> None:
        """After the rows landed (``committed`` already holds ``version``)."""
        for tenant in tenants:
            if self._in_flight.get(tenant) == version:
                del self._in_flight[tenant]
        await self.publish(committed, tenants, {t: committed[t] for t in tenants})

    async def publish(
        self,
        committed: Mapping[str, int],
        tenants: Collection[str] = (),
        changes: Mapping[str, int] | None = None,
    ) -> bool:
        """Writes the states of ``tenants`` (of every tenant when Redis may lack some)
        and renews the lease; False when Redis did not take it."""
        async with self._lock:
            for _ in range(3):
                outcome = await self._attempt(committed, tenants, changes)
                if outcome == _OK:
                    return True
                if outcome == _LEASE_LOST:
                    logger.warning("data version lease lost: re-publishing every version")
                    self._dirty = True
                elif outcome is None:
                    return False
            return False

    async def _attempt(
        self,
        committed: Mapping[str, int],
        tenants: Collection[str],
        changes: Mapping[str, int] | None,
    ) -> int | None:
        full = self._dirty
        names = sorted(set(committed) | set(self._in_flight)) if full else list(tenants)
        message = committed if full else changes
        states: list[Any] = []
        for tenant in names:
            done = committed.get(tenant, 0)
            states += [done, max(done, self._in_flight.get(tenant, done))]
        lease = f"{self._writer_id}:{next(self._leases)}"
        self._fence_until = max(
            self._fence_until, time.monotonic() + self._budget + self._ttl + _MARGIN
        )
        deadline = _micros_now() + self._offset_us + int(self._budget * 1_000_000)
        try:
            outcome, server_us = await self._script(
                keys=[self._keys.lease, *map(self._keys.tenant, names)],
                args=[
                    "" if full else self._lease, lease, int(self._ttl * 1000), deadline,
                    self._keys.channel, encode_changes(message) if message else "", *states,
                ],
            )  # fmt: skip
        except (RedisError, OSError) as exc:
            if not self._dirty:
                logger.warning("cannot publish data versions: %s", exc)
            self._dirty = True
            metrics.VERSION_PUBLISH_FAILURES.inc()
            return None
        self._offset_us = int(server_us) - _micros_now()
        if int(outcome) == _OK:
            self._lease = lease
            self._dirty = False
        return int(outcome)


class DataVersions:
    """The writer's version clock and every tenant's committed version; published
    through ``publisher`` when there is one (without it readers never trust Redis, so
    they never cache: exact, just slower)."""

    def __init__(self, publisher: VersionPublisher | None = None) -> None:
        self._publisher = publisher
        self._committed: dict[str, int] = {}
        self._clock = 0
        self.loaded = False

    def load(self, committed: Mapping[str, int], floor: int) -> None:
        for tenant, version in committed.items():
            self._committed[tenant] = max(version, self._committed.get(tenant, 0))
        self._clock = max(self._clock, floor, *self._committed.values(), 0)
        self.loaded = True

    def next_version(self) -> int:
        self._clock = max(self._clock + 1, _micros_now())
        return self._clock

    def current(self, tenant: str) -> int:
        return self._committed.get(tenant, 0)

    async def announce(self, tenants: Collection[str], version: int) -> None:
        if self._publisher is not None:
            await self._publisher.announce(tenants, version, self._committed)

    async def commit(self, tenants: Collection[str], version: int) -> None:
        for tenant in tenants:
            self._committed[tenant] = max(version, self._committed.get(tenant, 0))
        metrics.DATA_VERSION_COMMITS.inc()
        if self._publisher is not None:
            await self._publisher.commit(tenants, version, self._committed)

    async def publish(self) -> bool:
        """Renews the lease (writing every version again when Redis may lack some)."""
        return self._publisher is not None and await self._publisher.publish(self._committed)

    async def keep_published(self) -> None:
        """Renews the lease (and repairs Redis after a restart) until cancelled."""
        if self._publisher is None:
            return
        while True:
            await self.publish()
            await asyncio.sleep(self._publisher.heartbeat_seconds)
