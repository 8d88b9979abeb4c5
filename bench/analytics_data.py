"""Benchmark data for bench/analytics_bench.py: deterministic pseudo-random feedback
events generated inside chDB (INSERT ... SELECT FROM numbers(), so the materialized views
fill the hourly rollups as ingestion would), then the very same rows copied into a
PostgreSQL table shaped like feedback_svc's ``feedback`` table (same indexes)."""

from __future__ import annotations

import time
from typing import Any

import asyncpg

TAGS = "['speed', 'accuracy', 'tone', 'format', 'cost', 'ux', 'docs', 'latency']"
CHUNK = 1_000_000

# h(k) = a per-row, per-column hash; every column derives from the row number only.
_INSERT = (
    """
INSERT INTO feedback_events
    (feedback_id, outbox_sequence, tenant_id, user_id, feedback_type, execution_id, agent_id,
     chat_session_id, rating, sentiment, sentiment_score, tags, created_at, released_at)
SELECT
    number + 1, number + 1,
    concat('tenant-', toString(intHash64(number) % {tenants:UInt32})),
    concat('user-', toString(intHash64(number + 11) % 3000)),
    kind,
    if(kind = 1, 1 + intHash64(number + 22) % 20000, 0),
    if(kind = 2, 1 + intHash64(number + 33) % 300, 0),
    if(kind = 3, concat('chat-', toString(intHash64(number + 44) % 100000)), ''),
    1 + intHash64(number + 55) % 5,
    snt,
    if(snt = 0, 0, (intHash64(number + 66) % 2000001) / 1000000 - 1),
    arraySlice("""
    + TAGS
    + """, 1 + intHash64(number + 77) % 8, intHash64(number + 88) % 3),
    ts, ts
FROM (
    SELECT number,
           toUInt8(1 + intHash64(number + 99) % 4) AS kind,
           toUInt8(intHash64(number + 111) % 4) AS snt,
           fromUnixTimestamp64Micro(
               toInt64({start_us:Int64} + intHash64(number + 122) % {span_us:UInt64}), 'UTC'
           ) AS ts
    FROM numbers({offset:UInt64}, {count:UInt64})
)
"""
)

_EXPORT = """
SELECT feedback_id, tenant_id, user_id, toString(feedback_type), nullIf(execution_id, 0),
       nullIf(agent_id, 0), nullIf(chat_session_id, ''), rating,
       if(sentiment = 'no_comment', NULL, toString(sentiment)),
       if(sentiment = 'no_comment', NULL, sentiment_score),
       toJSONString(tags), concat(toString(created_at), '+00')
FROM feedback_events
WHERE feedback_id > {low:UInt64} AND feedback_id <= {high:UInt64}
"""

PG_TABLE = """
CREATE TABLE feedback (
    id BIGINT PRIMARY KEY, tenant_id TEXT NOT NULL, user_id TEXT NOT NULL,
    feedback_type TEXT NOT NULL, execution_id BIGINT NULL, agent_id BIGINT NULL,
    chat_session_id TEXT NULL, rating SMALLINT NOT NULL, sentiment TEXT NULL,
    sentiment_score DOUBLE PRECISION NULL, tags JSONB NOT NULL, created_at TIMESTAMPTZ NOT NULL
)"""
# The indexes of feedback_svc's migration that these queries can use.
PG_INDEXES = (
    "CREATE INDEX ON feedback (tenant_id, created_at DESC, id DESC)",
    "CREATE INDEX ON feedback (tenant_id, feedback_type, created_at DESC)",
    "CREATE INDEX ON feedback (tenant_id, agent_id, created_at DESC) WHERE agent_id IS NOT NULL",
    "CREATE INDEX ON feedback (tenant_id, execution_id) WHERE execution_id IS NOT NULL",
)
PG_COLUMNS = [
    "id", "tenant_id", "user_id", "feedback_type", "execution_id", "agent_id",
    "chat_session_id", "rating", "sentiment", "sentiment_score", "tags", "created_at",
]  # fmt: skip


def load_chdb(client: Any, events: int, tenants: int, start_us: int, span_us: int) -> float:
    started = time.perf_counter()
    for offset in range(0, events, CHUNK):
        client.command(
            _INSERT,
            parameters={
                "tenants": tenants,
                "start_us": start_us,
                "span_us": span_us,
                "offset": offset,
                "count": min(CHUNK, events - offset),
            },
        )
    # Measure the steady state: merge what background merges would merge anyway, and wait
    # for them, so no merge runs (and costs CPU in this process) while queries are timed.
    for table in ("feedback_events", "feedback_hourly", "feedback_tags_hourly"):
        client.command(f"OPTIMIZE TABLE {table} FINAL")
    while client.query("SELECT count() FROM system.merges").result_rows[0][0]:
        time.sleep(0.5)
    return time.perf_counter() - started


async def load_postgres(client: Any, db: asyncpg.Connection, events: int) -> float:
    started = time.perf_counter()
    await db.execute(PG_TABLE)
    for low in range(0, events, CHUNK):
        data = client.raw_query(_EXPORT, parameters={"low": low, "high": low + CHUNK}, fmt="CSV")

        async def chunks(payload: bytes = data) -> Any:
            yield payload

        await db.copy_to_table(
            "feedback", source=chunks(), columns=PG_COLUMNS, format="csv", null="\\N"
        )
    for statement in PG_INDEXES:
        await db.execute(statement)
    await db.execute("VACUUM ANALYZE feedback")
    return time.perf_counter() - started
