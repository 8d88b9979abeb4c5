"""The plan's way (one ClickHouse insert per pub/sub message) vs the batched writer, on
the same events; run by bench/ingest_bench.py (or alone: ``python bench/ingest_plan.py
[EVENTS]``, chDB in a temporary directory)."""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from feedbackmesh.feedback.v1 import feedback_pb2
from ingest_svc.events import convert
from ingest_svc.repository import ClickHouseRepository
from ingest_svc.schema import EVENT_COLUMNS, migrate_clickhouse
from ingest_svc.writer import IngestStats, Writer
from mesh_runtime.settings import Settings

# The four feedback types, in enum order (1..4).
_TYPES = [
    feedback_pb2.FEEDBACK_TYPE_EXECUTION,
    feedback_pb2.FEEDBACK_TYPE_AGENT,
    feedback_pb2.FEEDBACK_TYPE_CHAT,
    feedback_pb2.FEEDBACK_TYPE_GENERAL,
]


def make_events(count: int, first: int = 0) -> list[feedback_pb2.FeedbackEvent]:
    """``count`` events with sequences and feedback ids from ``first + 1``."""
    base = datetime(2026, 1, 1, tzinfo=UTC)
    events = []
    for i in range(first, first + count):
        e = feedback_pb2.FeedbackEvent(
            sequence=i + 1, feedback_id=i + 1, tenant_id=f"t{i % 7}", user_id=f"u{i % 300}",
            feedback_type=_TYPES[i % 4], rating=1 + i % 5, tags=["a", "b"][: i % 3],
        )  # fmt: skip
        e.execution_id, e.agent_id = (i + 1, 0) if e.feedback_type == 1 else (0, 0)
        e.created_at.FromDatetime(base + timedelta(seconds=97 * i))
        e.released_at.CopyFrom(e.created_at)
        events.append(e)
    return events


def writer_capacity(settings: Settings, count: int) -> float:
    """The ingest side alone: convert + anti-join + journal + insert (+ views) + done,
    in batches of ``ingest_batch_size``, without the outbox RPCs around it."""
    events = make_events(count)
    ours = settings.model_copy(update={"clickhouse_database": "bench_capacity"})
    migrate_clickhouse(ours)
    repo = ClickHouseRepository(ours)
    writer = Writer(repo, IngestStats())

    async def run() -> float:
        await writer.write([], "outbox")  # warm-up: the start-up journal check
        started = time.perf_counter()
        for start in range(0, count, ours.ingest_batch_size):
            await writer.write(events[start : start + ours.ingest_batch_size], "outbox")
        return count / (time.perf_counter() - started)

    rate = asyncio.run(run())
    repo.close()
    print(f"writer alone: {count} rows in batches of {ours.ingest_batch_size}: "
          f"{rate:,.0f} rows/s")  # fmt: skip
    return rate


def plan_way(settings: Settings, count: int) -> None:
    """The plan's worker (one insert per message, no batching) vs our batched writer,
    on the same events, each into a fresh database with the views attached."""
    events = make_events(count)
    # The batched writer, each time into a fresh database: cold (the first write pays
    # chDB's and the writer's first-call set-up), and warm (steady state: one write of a
    # different batch of the same size first, then the same events as the plan's way).
    # Both run before the plan's way: its 10,000 one-row parts keep chDB's background
    # merges busy for a while, which slowed a cold batch measured after it 2-3x.
    cold_rate = _batched_rate(settings, "bench_batched_cold", events, warm_up=None)
    warm_rate = _batched_rate(
        settings, "bench_batched_warm", events, warm_up=make_events(count, first=count)
    )
    rows, _, _ = convert(events)
    plan = settings.model_copy(update={"clickhouse_database": "bench_plan"})
    migrate_clickhouse(plan)
    repo = ClickHouseRepository(plan)
    repo.count_events()  # warm-up (chDB's first query), for both ways alike
    started = time.perf_counter()
    for i in range(len(rows)):
        repo._client.insert("feedback_events", rows.take([i]).columns, column_oriented=True,
                            column_names=list(EVENT_COLUMNS), database="bench_plan")  # fmt: skip
    plan_rate = count / (time.perf_counter() - started)
    repo.close()
    print(f"plan's way: {count} events one insert each: {plan_rate:,.1f} rows/s; "
          f"batched writer (anti-join + journal + token) on the same events: cold "
          f"{cold_rate:,.0f} rows/s (ratio {cold_rate / plan_rate:,.0f}x), warm "
          f"{warm_rate:,.0f} rows/s (ratio {warm_rate / plan_rate:,.0f}x)")  # fmt: skip


def _batched_rate(
    settings: Settings,
    database: str,
    events: list[feedback_pb2.FeedbackEvent],
    warm_up: list[feedback_pb2.FeedbackEvent] | None,
) -> float:
    ours = settings.model_copy(update={"clickhouse_database": database})
    migrate_clickhouse(ours)
    repo = ClickHouseRepository(ours)
    writer = Writer(repo, IngestStats())
    size = ours.ingest_batch_size

    async def batched() -> float:
        await writer.write([], "outbox")  # the start-up journal check
        if warm_up is not None:
            for start in range(0, len(warm_up), size):
                await writer.write(warm_up[start : start + size], "outbox")
        started = time.perf_counter()
        for start in range(0, len(events), size):
            await writer.write(events[start : start + size], "outbox")
        return len(events) / (time.perf_counter() - started)

    rate = asyncio.run(batched())
    repo.close()
    return rate


if __name__ == "__main__":
    tmp = Path(tempfile.mkdtemp(prefix="ingest-plan-"))
    settings = Settings(clickhouse_url=f"chdb://{tmp}", ingest_batch_size=10_000)
    writer_capacity(settings, int(sys.argv[2]) if len(sys.argv) > 2 else 100_000)
    plan_way(settings, int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
