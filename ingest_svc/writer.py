"""The single ClickHouse writer: every path (pub/sub, outbox, direct RPC) inserts here.

Why the result is exact (each feedback id in feedback_events and the rollups once):
1. One writer per process, serialized by a lock, so the anti-join below and the insert
   that follows it cannot interleave with another insert. (Run one ingest replica: the
   Deployment is a singleton; a second replica would race the anti-join.)
2. The anti-join drops ids already in feedback_events: duplicate deliveries (pub/sub and
   outbox, a re-pull after a lost ack, a restart after the insert) insert nothing.
3. The rows that remain get a fresh token and a journal entry *before* the insert, and
   that entry is retried verbatim — same rows, same token — until it succeeds; nothing
   else is inserted while one is unfinished (``_pending``), and an entry left unfinished
   by a crash is replayed first at start-up. A verbatim retry is dropped by the raw table
   if it landed, and each materialized view deduplicates on its own, so a crash between
   the raw part and a view part is completed rather than lost or doubled. Replays always
   come right after the original insert, well inside the deduplication window.
Anything not finished was not acknowledged, so the outbox delivers it again.

Each entry carries the data version its rows land with (journaled, so a replay reuses
it); the tenants' versions are announced before the insert and committed after it
(ingest_svc/versions.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from feedbackmesh.feedback.v1 import feedback_pb2
from ingest_svc import metrics
from ingest_svc.events import Rows, convert, is_change, latest, split_retractions
from ingest_svc.repository import ClickHouseRepository, JournalEntry, new_token
from ingest_svc.versions import DataVersions
from mesh_runtime import tracing

logger = logging.getLogger(__name__)
T = TypeVar("T")
_SLOW_SECONDS = 2.0
_LAG_SAMPLES = 100


@dataclass
class IngestStats:
    rows_ingested: int = 0
    batches_ingested: int = 0
    last_error: str = ""
    last_error_time: datetime | None = None
    last_ingest_time: datetime | None = None

    def error(self, message: str) -> None:
        self.last_error = message
        self.last_error_time = datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class WriteResult:
    inserted: int
    duplicates: int
    poisoned: int


class GaveUp(Exception):
    """ClickHouse stayed unavailable past the caller's deadline (nothing was lost)."""


@dataclass(frozen=True, slots=True)
class Backoff:
    initial: float = 0.05
    maximum: float = 5.0
    factor: float = 2.0


class Writer:
    def __init__(
        self,
        repository: ClickHouseRepository,
        stats: IngestStats,
        versions: DataVersions | None = None,
    ) -> None:
        self._repo = repository
        self._stats = stats
        self.versions = versions if versions is not None else DataVersions()
        self._lock = asyncio.Lock()
        self._backoff = Backoff()
        self._replayed = False
        self._pending: JournalEntry | None = None
        self._unrecorded_done: str | None = None

    async def write(
        self,
        events: Sequence[feedback_pb2.FeedbackEvent],
        path: str,
        *,
        received: Mapping[int, float] | None = None,
        deadline: float | None = None,
    ) -> WriteResult:
        """Inserts the events not yet in ClickHouse; parks poison. ``deadline`` is a
        ``time.monotonic()`` bound (raises GaveUp), None retries until cancelled."""
        # Conversion is pure: it runs before the lock, so it overlaps the insert of the
        # batch ahead (chDB releases the GIL while it works).
        live, retractions, poisoned = split_retractions(latest(list(events)))
        rows, bad, sources = convert(live)
        poisoned += bad
        async with self._lock:
            await self._finish_unfinished(deadline)
            if poisoned:
                await self._retry(
                    "park_poison", self._repo.park_poison, poisoned, deadline=deadline
                )
                for p in poisoned:
                    logger.error(
                        "poison event parked",
                        extra={"feedback_id": p.event.feedback_id, "error": p.error},
                    )
                metrics.POISON.inc(len(poisoned))
                self._stats.error(f"poison event {poisoned[-1].event.feedback_id}: "
                                  f"{poisoned[-1].error}")  # fmt: skip
            else:
                self._stats.last_error = ""
            if not rows and not retractions:
                return WriteResult(0, 0, len(poisoned))
            held = await self._retry(
                "anti_join", self._repo.existing_revisions, rows, retractions, deadline=deadline
            )
            # An event applies only when it is newer than the revision ClickHouse holds:
            # a redelivery, or an older revision arriving late, changes nothing.
            keep = [
                i for i, (feedback_id, revision) in enumerate(zip(rows.ids, rows.revisions,
                                                                  strict=True))
                if revision > held.get(feedback_id, -1)
            ]  # fmt: skip
            missing = rows if len(keep) == len(rows) else rows.take(keep)
            gone = [e for e in retractions if e.revision > held.get(e.feedback_id, -1)]
            applied = len(missing) + len(gone)
            metrics.DUPLICATES_SKIPPED.inc(len(rows) + len(retractions) - applied)
            if applied:
                if gone or any(map(is_change, sources)):
                    self._refuse_changes_on_a_cluster()
                # From here on the rows are owned by the entry until it is finished.
                self._pending = JournalEntry(
                    new_token(), [*(sources[i] for i in keep), *gone], missing,
                    self.versions.next_version(),
                )  # fmt: skip
                await self._finish(self._pending, path, received, deadline)
            return WriteResult(applied, len(rows) + len(retractions) - applied, len(poisoned))

    def _refuse_changes_on_a_cluster(self) -> None:
        if self._repo.clustered:
            # Lightweight deletes and rebuilt buckets are single-server SQL here; a change
            # left unacknowledged waits in the outbox instead of being applied wrongly.
            raise RuntimeError("feedback changes are not supported on a ClickHouse cluster yet")

    async def prepare(self, deadline: float | None = None) -> None:
        """Loads the data versions and replays an unfinished insert (before the first
        write; the worker calls it at start so versions are published while idle)."""
        async with self._lock:
            await self._finish_unfinished(deadline)

    async def _finish_unfinished(self, deadline: float | None) -> None:
        if not self.versions.loaded:
            committed, floor = await self._retry(
                "versions", self._repo.data_versions, deadline=deadline
            )
            self.versions.load(committed, floor)
        if not self._replayed:
            for entry in await self._retry(
                "journal", self._repo.unfinished_journal, deadline=deadline
            ):
                logger.warning(
                    "replaying an unfinished insert", extra={"token": entry.token,
                                                             "rows": len(entry.rows)},
                )  # fmt: skip
                if not entry.data_version:  # journaled before data versions existed
                    entry = dataclasses.replace(entry, data_version=self.versions.next_version())
                await self._finish(entry, "replay", None, deadline, journaled=True)
            self._replayed = True
        if self._pending is not None:
            await self._finish(self._pending, "replay", None, deadline)

    async def _finish(
        self,
        entry: JournalEntry,
        path: str,
        received: Mapping[int, float] | None,
        deadline: float | None,
        *,
        journaled: bool = False,
    ) -> None:
        if not journaled:
            # The previous entry's 'done' rides along with this 'begin': one chDB call
            # fewer per batch. Until then a crash replays an entry that already landed,
            # which the deduplication tokens make a no-op (it is the latest insert).
            await self._retry(
                "journal", self._repo.journal_begin, entry, self._unrecorded_done,
                deadline=deadline,
            )  # fmt: skip
            self._unrecorded_done = None
        tenants = entry.tenants
        changes = entry.changes
        await self.versions.announce(tenants, entry.data_version)
        started = time.perf_counter()
        with tracing.batch_span("ingest insert", (event.traceparent for event in entry.events)):
            if changes:
                await self._retry("supersede", self._repo.remove_superseded, changes,
                                  deadline=deadline)  # fmt: skip
            if len(entry.rows):
                await self._retry(
                    "insert", self._repo.insert_events, entry.rows, entry.token,
                    entry.data_version, deadline=deadline,
                )  # fmt: skip
            if changes:
                await self._retry("recompute", self._repo.recompute_hours, changes,
                                  deadline=deadline)  # fmt: skip
        metrics.INSERT_DURATION.observe(time.perf_counter() - started)
        if journaled or changes:
            # The replayed rows may have landed before the crash (then the view saw
            # nothing new), and a retraction inserts no row at all: the version is
            # recorded directly.
            versions = dict.fromkeys(tenants, entry.data_version)
            await self._retry("versions", self._repo.record_versions, versions,
                              deadline=deadline)  # fmt: skip
        await self.versions.commit(tenants, entry.data_version)
        self._observe(entry.rows, path, received)
        if logger.isEnabledFor(logging.DEBUG):
            # One line per event, in the event's own trace: a submission can be followed
            # from the gateway's access log to the row landing here.
            for event in entry.events:
                with tracing.continued(event.traceparent):
                    logger.debug(
                        "event ingested", extra={"feedback_id": event.feedback_id, "path": path}
                    )
        if journaled:
            await self._retry("journal", self._repo.journal_done, entry.token, deadline=deadline)
        else:
            self._unrecorded_done = entry.token
        if self._pending is entry:
            self._pending = None

    async def close(self, deadline: float | None = None) -> None:
        """Records the last entry's 'done' (else the next start replays it, harmlessly)."""
        async with self._lock:
            if self._unrecorded_done is not None and self._pending is None:
                await self._retry(
                    "journal", self._repo.journal_done, self._unrecorded_done, deadline=deadline
                )
                self._unrecorded_done = None

    def _observe(self, rows: Rows, path: str, received: Mapping[int, float] | None) -> None:
        now = datetime.now(UTC)
        now_micros = int(now.timestamp() * 1_000_000)
        self._stats.rows_ingested += len(rows)
        self._stats.batches_ingested += 1
        self._stats.last_ingest_time = now
        metrics.ROWS_INGESTED.inc(len(rows))
        metrics.BATCH_SIZE.labels(path).observe(len(rows))
        # Lag histograms observe an evenly spread sample of each batch: per-row
        # observes would cost more than the ClickHouse insert of a 10,000-row batch.
        stride = max(1, len(rows) // _LAG_SAMPLES)
        created = metrics.END_TO_END_LAG.labels("created")
        released = metrics.END_TO_END_LAG.labels("released")
        for micros in rows.created_micros[::stride]:
            created.observe(max(now_micros - micros, 0) / 1e6)
        for micros in rows.released_micros[::stride]:
            released.observe(max(now_micros - micros, 0) / 1e6)
        if received:
            mono = time.monotonic()
            for feedback_id in rows.ids[::stride]:
                at = received.get(feedback_id)
                if at is not None:
                    metrics.PUBSUB_LATENCY.observe(mono - at)

    async def _retry(
        self, operation: str, fn: Callable[..., T], *args: Any, deadline: float | None
    ) -> T:
        """Runs a blocking ClickHouse call in a thread, retrying with exponential backoff."""
        delay = self._backoff.initial
        while True:
            started = time.monotonic()
            try:
                result = await asyncio.to_thread(fn, *args)
                took = time.monotonic() - started
                if took > _SLOW_SECONDS:
                    logger.warning("slow clickhouse %s: %.1fs", operation, took)
                return result
            except Exception as exc:
                message = f"clickhouse {operation} failed: {type(exc).__name__}: {exc}"[:1000]
                self._stats.error(message)
                metrics.RETRIES.labels(operation).inc()
                logger.warning("%s; retrying in %.2fs", message, delay)
                if deadline is not None and time.monotonic() + delay > deadline:
                    raise GaveUp(message) from exc
                await asyncio.sleep(delay)
                delay = min(delay * self._backoff.factor, self._backoff.maximum)
