"""The ingest worker: pub/sub batching, the durable outbox drain, acks, and status.

Two paths feed the one Writer: pub/sub events are buffered and flushed on size or
interval (low lag); the outbox is drained on start, after every Redis (re)connect and
on a timer (nothing lost). Both acknowledge only after the Writer returned, i.e. once
the rows are in ClickHouse; a lost ack means a re-pull that the anti-join skips.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from feedbackmesh.feedback.v1 import feedback_pb2
from ingest_svc import metrics
from ingest_svc.outbox_client import OutboxClient
from ingest_svc.repository import ClickHouseRepository
from ingest_svc.subscriber import Subscriber
from ingest_svc.writer import IngestStats, Writer, WriteResult
from mesh_runtime.errors import Unavailable
from mesh_runtime.settings import Settings

logger = logging.getLogger(__name__)

_MAX_ACKS_IN_FLIGHT = 4


@dataclass(frozen=True, slots=True)
class IngestStatus:
    backlog: int
    lag_seconds: float
    pending_sentiment: int
    rows_in_clickhouse: int
    stats: IngestStats
    pubsub_connected: bool


class IngestWorker:
    def __init__(
        self,
        settings: Settings,
        writer: Writer,
        stats: IngestStats,
        outbox: OutboxClient,
        reader: ClickHouseRepository,
    ) -> None:
        self._batch_size = max(1, settings.ingest_batch_size)
        self._flush_interval = settings.ingest_flush_interval_seconds
        self._poll_interval = settings.ingest_poll_interval_seconds
        self._writer = writer
        self._stats = stats
        self.outbox = outbox
        self._reader = reader
        self.subscriber: Subscriber | None = None
        self._buffer: dict[int, tuple[feedback_pb2.FeedbackEvent, float]] = {}
        self._has_items = asyncio.Event()
        self._full = asyncio.Event()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._ack_tasks: list[asyncio.Task[None]] = []

    def start(self, subscriber: Subscriber | None) -> None:
        self.subscriber = subscriber
        self._tasks = [
            asyncio.create_task(self._versions_loop(), name="ingest-versions"),
            asyncio.create_task(self._poll_loop(), name="ingest-outbox"),
            asyncio.create_task(self._flush_loop(), name="ingest-flush"),
        ]
        if subscriber is not None:
            self._tasks.append(asyncio.create_task(subscriber.run(), name="ingest-pubsub"))

    async def stop(self, flush_timeout: float = 5.0) -> None:
        """Stops receiving, then flushes the buffer (bounded: unflushed events stay
        unacknowledged in the outbox and come back on the next start)."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        with contextlib.suppress(Exception):
            if self._buffer:
                await asyncio.wait_for(self._flush(), flush_timeout)
            await asyncio.wait_for(self.wait_acked(), flush_timeout)
            await self._writer.close(deadline=time.monotonic() + flush_timeout)

    async def _versions_loop(self) -> None:
        """Loads (and replays) before any write, then keeps the data versions published
        even while nothing is written (readers cache only while they are)."""
        try:
            await self._writer.prepare()
            await self._writer.versions.keep_published()
        except Exception:
            logger.exception("data version publication stopped")

    # --- pub/sub path ------------------------------------------------------------

    async def on_event(self, event: feedback_pb2.FeedbackEvent, received: float) -> None:
        held = self._buffer.get(event.feedback_id)
        if held is None or event.revision > held[0].revision:
            # A newer revision of a buffered feedback replaces it (it carries the whole
            # state); the older one is re-pulled by a later drain, skipped by the
            # anti-join and acknowledged then.
            self._buffer[event.feedback_id] = (event, received)
        self._has_items.set()
        if len(self._buffer) >= self._batch_size:
            self._full.set()

    def wake(self) -> None:
        """Drain the outbox now (called after every Redis (re)connect)."""
        self._wake.set()

    async def _flush_loop(self) -> None:
        while True:
            await self._has_items.wait()
            # Flush on size or when the oldest buffered event is flush_interval old.
            oldest = min(received for _, received in self._buffer.values())
            remaining = oldest + self._flush_interval - time.monotonic()
            if remaining > 0 and len(self._buffer) < self._batch_size:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._full.wait(), remaining)
            try:
                await self._flush()
            except Exception:
                logger.exception("pub/sub batch failed; the outbox will redeliver it")

    async def _flush(self) -> None:
        items = list(self._buffer.values())[: self._batch_size]
        for event, _ in items:
            del self._buffer[event.feedback_id]
        if not self._buffer:
            self._has_items.clear()
        if len(self._buffer) < self._batch_size:
            self._full.clear()
        if items:
            received = {event.feedback_id: at for event, at in items}
            await self._ingest([event for event, _ in items], "pubsub", received)

    # --- durable path ------------------------------------------------------------

    async def _poll_loop(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.drain_outbox()
            except Exception as exc:
                self._stats.error(f"outbox drain failed: {type(exc).__name__}")
                logger.warning("outbox drain failed: %s", exc)
            with contextlib.suppress(Exception):
                metrics.BACKLOG.set((await self.outbox.status()).backlog)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_interval)

    async def drain_outbox(self) -> int:
        """Ingests every released, unacknowledged event; returns how many were seen.
        Each drain starts from the oldest unacknowledged event, so an event released
        late with a lower sequence is found by the next drain."""
        seen = 0
        # Acks still in flight would make this drain re-pull (and skip) their events.
        await self.wait_acked()
        events = await self.outbox.pull(self._batch_size, 0)
        writing: asyncio.Task[WriteResult] | None = None
        following: asyncio.Task[list[feedback_pb2.FeedbackEvent]] | None = None
        try:
            while events:
                # Three stages overlap: the next page is read from PostgreSQL, this page
                # is converted, and the page before is still being inserted (the writer
                # takes pages in order; conversion runs before its lock).
                after = max(event.sequence for event in events)
                following = asyncio.create_task(self.outbox.pull(self._batch_size, after))
                # Events waiting in the pub/sub buffer are written and acked by its flush
                # (or re-pulled by the next drain if that fails).
                todo = [event for event in events if not self._buffered(event)]
                previous = writing
                writing = asyncio.create_task(self._ingest(todo, "outbox")) if todo else None
                if previous is not None:
                    await previous
                seen += len(events)
                events = await following
            if writing is not None:
                await writing
        except BaseException:
            for task in (writing, following):
                if task is not None:
                    task.cancel()
            raise
        return seen

    def _buffered(self, event: feedback_pb2.FeedbackEvent) -> bool:
        held = self._buffer.get(event.feedback_id)
        return held is not None and held[0].revision >= event.revision

    # --- shared ------------------------------------------------------------------

    async def _ingest(
        self,
        events: Sequence[feedback_pb2.FeedbackEvent],
        path: str,
        received: dict[int, float] | None = None,
    ) -> WriteResult:
        result = await self._writer.write(events, path, received=received)
        # Acks overlap the next writes (a slow FeedbackService must not stall inserts);
        # a few in flight at most.
        sequences = [event.sequence for event in events if event.sequence > 0]
        self._ack_tasks.append(asyncio.create_task(self._ack(sequences)))
        while len(self._ack_tasks) > _MAX_ACKS_IN_FLIGHT:
            await self._ack_tasks.pop(0)
        return result

    async def wait_acked(self) -> None:
        while self._ack_tasks:
            await self._ack_tasks.pop(0)

    async def _ack(self, sequences: list[int]) -> None:
        try:
            await self.outbox.ack(sequences)
        except Exception as exc:
            # Harmless: the events are re-pulled and the anti-join skips them.
            metrics.ACK_FAILURES.inc()
            self._stats.error(f"outbox ack failed: {type(exc).__name__}")
            logger.warning("outbox ack failed: %s", exc)

    async def ingest_direct(
        self, events: Sequence[feedback_pb2.FeedbackEvent], timeout: float = 30.0
    ) -> WriteResult:
        """IngestEvents: the same idempotent write, bounded in time, without acks."""
        return await self._writer.write(events, "direct", deadline=time.monotonic() + timeout)

    async def status(self) -> IngestStatus:
        try:
            outbox = await self.outbox.status()
        except Exception as exc:
            raise Unavailable("the feedback service's outbox status is unavailable") from exc
        try:
            rows = await asyncio.to_thread(self._reader.count_events)
        except Exception as exc:
            raise Unavailable("ClickHouse is unavailable") from exc
        metrics.BACKLOG.set(outbox.backlog)
        lag = 0.0
        if outbox.oldest_unacknowledged_created_at is not None:
            age = datetime.now(UTC) - outbox.oldest_unacknowledged_created_at
            lag = max(age.total_seconds(), 0.0)
        return IngestStatus(
            backlog=outbox.backlog,
            lag_seconds=lag,
            pending_sentiment=outbox.pending_sentiment,
            rows_in_clickhouse=rows,
            stats=self._stats,
            pubsub_connected=self.subscriber is not None and self.subscriber.connected,
        )
