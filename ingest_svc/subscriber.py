"""The Redis pub/sub fast path: receives released events, reconnects forever.

Pub/sub is at-most-once: whatever is missed while disconnected is caught up by the
outbox pull that ``on_connect`` triggers after every (re)subscription.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from feedbackmesh.feedback.v1 import feedback_pb2
from ingest_svc import metrics
from ingest_svc.events import parse_event

logger = logging.getLogger(__name__)

EventHandler = Callable[[feedback_pb2.FeedbackEvent, float], Awaitable[None]]


class Subscriber:
    def __init__(
        self,
        redis: aioredis.Redis,
        channel: str,
        on_event: EventHandler,
        on_connect: Callable[[], None],
    ) -> None:
        self._redis = redis
        self._channel = channel
        self._on_event = on_event
        self._on_connect = on_connect
        self._enabled = asyncio.Event()
        self._enabled.set()
        self._pubsub: aioredis.client.PubSub | None = None
        self.connected = False

    def pause(self) -> None:
        """Unsubscribes until ``resume`` (messages published meanwhile are lost to this
        path; operations use it to shed load, tests to drop messages)."""
        self._enabled.clear()
        self._set_connected(False)

    def resume(self) -> None:
        self._enabled.set()

    def _set_connected(self, value: bool) -> None:
        self.connected = value
        metrics.PUBSUB_CONNECTED.set(1 if value else 0)

    async def run(self) -> None:
        delay = 0.1
        while True:
            await self._enabled.wait()
            try:
                await self._listen()
                delay = 0.1
            except (RedisError, OSError) as exc:
                logger.warning("redis subscription lost (%s); reconnecting in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            finally:
                self._set_connected(False)

    async def _listen(self) -> None:
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(self._channel)
            self._set_connected(True)
            # Whatever was published while we were away is only in the outbox now.
            self._on_connect()
            while self._enabled.is_set():
                message = await pubsub.get_message(timeout=0.5)
                if message is None or message.get("type") != "message":
                    continue
                received = time.monotonic()
                try:
                    event = parse_event(message["data"])
                except Exception as exc:
                    # Not even a sequence to park it by: the outbox copy is the record.
                    logger.error("unparseable pub/sub message: %s", exc)
                    metrics.POISON.inc()
                    continue
                await self._on_event(event, received)
        finally:
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()
