"""Live data versions for WatchAnalytics: one Redis subscription per process to the
version changes, fanned out to the open streams of each tenant.

Pub/sub only wakes a stream; the version it sends is read again per tenant
(analytics_svc/versions.py), on every wake-up, after every (re)subscription and at
every keep-alive, so a lost message delays an event by one keep-alive at most. A stream
only ever learns about its own tenant: subscribers are indexed by the caller's tenant
and each message is routed by tenant.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from redis.exceptions import RedisError

from analytics_svc import metrics
from analytics_svc.versions import VersionReader
from mesh_runtime.data_versions import DataVersionKeys, decode_changes
from mesh_runtime.errors import ResourceExhausted

if TYPE_CHECKING:
    import redis.asyncio as aioredis

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WatchLimits:
    keepalive_seconds: float
    per_tenant: int
    total: int


@dataclass(eq=False)
class _Stream:
    wake: asyncio.Event = field(default_factory=asyncio.Event)


class WatchHub:
    def __init__(
        self,
        versions: VersionReader,
        limits: WatchLimits,
        redis: aioredis.Redis | None = None,
        keys: DataVersionKeys | None = None,
    ) -> None:
        self._versions = versions
        self._limits = limits
        self._redis = redis
        self._keys = keys
        self._streams: dict[str, set[_Stream]] = {}
        self._count = 0
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.subscribed = False

    async def start(self) -> None:
        if self._redis is not None and self._task is None:
            self._task = asyncio.create_task(self._run(), name="analytics-watch")

    async def close_streams(self) -> None:
        """Ends every open stream (draining: clients reconnect elsewhere)."""
        self._closing = True
        self._wake_all()

    async def stop(self) -> None:
        await self.close_streams()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def watch(self, tenant_id: str) -> AsyncIterator[int]:
        """The tenant's data version now, then whenever it moves, and again at every
        keep-alive; never a smaller one than already sent."""
        stream = self._register(tenant_id)
        try:
            sent = (await self._versions.read(tenant_id)).version
            yield sent
            while not self._closing:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stream.wake.wait(), self._limits.keepalive_seconds)
                stream.wake.clear()
                if self._closing:
                    break
                sent = max(sent, (await self._versions.read(tenant_id)).version)
                yield sent
        finally:
            self._unregister(tenant_id, stream)

    def _register(self, tenant_id: str) -> _Stream:
        if self._closing:
            raise ResourceExhausted("the server is shutting down: reconnect")
        streams = self._streams.setdefault(tenant_id, set())
        if len(streams) >= self._limits.per_tenant:
            metrics.WATCH_REFUSED.labels("tenant").inc()
            raise ResourceExhausted(
                f"at most {self._limits.per_tenant} live streams per tenant; close one"
            )
        if self._count >= self._limits.total:
            metrics.WATCH_REFUSED.labels("server").inc()
            raise ResourceExhausted("too many live streams on this server; retry later")
        stream = _Stream()
        streams.add(stream)
        self._count += 1
        metrics.WATCH_STREAMS.set(self._count)
        return stream

    def _unregister(self, tenant_id: str, stream: _Stream) -> None:
        streams = self._streams.get(tenant_id)
        if streams is not None and stream in streams:
            streams.discard(stream)
            self._count -= 1
            if not streams:
                del self._streams[tenant_id]
        metrics.WATCH_STREAMS.set(self._count)

    def _wake_all(self) -> None:
        for streams in self._streams.values():
            for stream in streams:
                stream.wake.set()

    def _route(self, payload: bytes | str) -> None:
        try:
            changes = decode_changes(payload)
        except ValueError as exc:
            logger.warning("unreadable data version change: %s", exc)
            return
        for tenant_id in changes:
            for stream in self._streams.get(tenant_id, ()):
                stream.wake.set()

    async def _run(self) -> None:
        assert self._redis is not None and self._keys is not None
        delay = 0.1
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._keys.channel)
                self.subscribed = True
                delay = 0.1
                # Changes published while unsubscribed were missed: every stream re-reads.
                self._wake_all()
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None and message.get("type") == "message":
                        self._route(message["data"])
            except (RedisError, OSError) as exc:
                logger.warning("data version subscription lost (%s); retrying", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            finally:
                self.subscribed = False
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()
