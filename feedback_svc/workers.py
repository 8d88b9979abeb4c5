"""Background work of a feedback replica: the releaser (sequences ready outbox rows, then
publishes them on Redis) and the re-scorer (completes pending sentiment)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from feedback_svc import metrics
from feedback_svc.convert import event_json
from feedback_svc.domain import OutboxEvent
from feedback_svc.outbox import RELEASE_BATCH, OutboxStore
from feedback_svc.sentiment_client import SentimentClient, SentimentUnavailable

logger = logging.getLogger(__name__)

RESCORE_BATCH = 500
MIN_RESCORE_BATCH = 10
GAUGE_INTERVAL_SECONDS = 5.0
# After a wake-up the releaser lingers this long so that the commits of concurrent
# submissions share one release transaction and one Redis pipeline: under load this cuts
# the per-event database and CPU cost several-fold for a few ms of pub/sub latency.
RELEASE_LINGER_SECONDS = 0.005


# One PUBLISH per event, all in one command: a pipeline of thousands of PUBLISH replies
# costs redis-py a parse per reply, a script call costs one reply.
PUBLISH_MANY_LUA = """
for i = 2, #ARGV do redis.call('PUBLISH', ARGV[1], ARGV[i]) end
return #ARGV - 1
"""
PUBLISH_CHUNK = 1000


class Publisher:
    """Publishes released events on Redis pub/sub: the fast path, not the record."""

    def __init__(self, redis: aioredis.Redis, channel: str) -> None:
        self._redis = redis
        self._channel = channel
        self._publish_many = redis.register_script(PUBLISH_MANY_LUA)
        self._scripting = True

    async def _send(self, messages: list[str]) -> None:
        if self._scripting:
            try:
                await self._publish_many(keys=[], args=[self._channel, *messages])
                return
            except ResponseError:
                # Scripting disabled (some managed Redis): plain pipelines from now on.
                logger.warning("Redis refused EVAL; publishing with pipelines")
                self._scripting = False
        async with self._redis.pipeline(transaction=False) as pipe:
            for message in messages:
                pipe.publish(self._channel, message)
            await pipe.execute()

    async def publish(self, events: Sequence[OutboxEvent]) -> None:
        if not events:
            return
        try:
            for start in range(0, len(events), PUBLISH_CHUNK):
                await self._send([event_json(e) for e in events[start : start + PUBLISH_CHUNK]])
        except Exception:
            # Never fatal: the ingest side drains the outbox whatever pub/sub dropped.
            metrics.PUBLISH_FAILURES.inc(len(events))
            logger.warning("publishing %d events failed", len(events), exc_info=True)
            return
        metrics.PUBLISHED.inc(len(events))


class Workers:
    def __init__(
        self,
        store: OutboxStore,
        publisher: Publisher,
        sentiment: SentimentClient,
        tenant_label: Callable[[str], str],
        poll_interval: float = 1.0,
    ) -> None:
        self._store = store
        self._tenant_label = tenant_label
        self._publisher = publisher
        self._sentiment = sentiment
        self._poll_interval = poll_interval
        self._release_wakeup = asyncio.Event()
        self._rescore_wakeup = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        # Halved after each failed scoring call, doubled after each success: a struggling
        # sentiment service still completes small batches instead of timing out forever.
        self._rescore_batch = RESCORE_BATCH

    def wake_release(self) -> None:
        self._release_wakeup.set()

    def wake_rescore(self) -> None:
        self._rescore_wakeup.set()

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._release_loop(), name="feedback-releaser"),
            asyncio.create_task(self._rescore_loop(), name="feedback-rescorer"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        # Release what committed before shutdown, so its pub/sub message is not delayed
        # until another replica polls.
        with contextlib.suppress(Exception):
            await self.release_once()

    async def release_once(self) -> int:
        events = await self._store.release()
        if events:
            metrics.RELEASED.inc(len(events))
            for event in events:
                lag = (event.released_at - event.created_at).total_seconds()
                metrics.RELEASE_LAG.observe(max(0.0, lag))
            await self._publisher.publish(events)
        return len(events)

    async def _wait(self, event: asyncio.Event, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)
        event.clear()

    async def _release_loop(self) -> None:
        while True:
            await self._wait(self._release_wakeup, self._poll_interval)
            await asyncio.sleep(RELEASE_LINGER_SECONDS)
            try:
                # Loop only while releases come back full (a backlog): otherwise the commits
                # that arrived meanwhile set the wake-up again and wait out the linger, so
                # under load each release takes a few ms worth of events instead of one or
                # two (each release is five round trips to PostgreSQL).
                while await self.release_once() >= RELEASE_BATCH:
                    pass
            except Exception:
                logger.exception("releasing outbox events failed")
                await asyncio.sleep(self._poll_interval)

    async def rescore_once(self) -> int:
        try:
            scored = await self._store.rescore_pending(
                self._rescore_batch,
                lambda texts: self._sentiment.score_batch(texts, probe=True),
            )
        except SentimentUnavailable:
            self._rescore_batch = max(MIN_RESCORE_BATCH, self._rescore_batch // 2)
            return 0
        self._rescore_batch = min(RESCORE_BATCH, self._rescore_batch * 2)
        for tenant_id, score in scored:
            metrics.SENTIMENT_SCORE.labels(self._tenant_label(tenant_id)).observe(score.score)
        if scored:
            self.wake_release()
        return len(scored)

    async def _rescore_loop(self) -> None:
        next_gauges = 0.0
        while True:
            await self._wait(self._rescore_wakeup, self._poll_interval)
            try:
                while await self.rescore_once() >= MIN_RESCORE_BATCH:
                    pass
                if time.monotonic() >= next_gauges:
                    metrics.observe_outbox(await self._store.status())
                    next_gauges = time.monotonic() + GAUGE_INTERVAL_SECONDS
            except Exception:
                logger.exception("re-scoring pending sentiment failed")
                await asyncio.sleep(self._poll_interval)
