"""The transactional outbox: release (sequencing), pull, acknowledge, status, re-scoring.

Release rule: a feedback's outbox row is inserted with the feedback (``ready`` once the
feedback is complete: scored or without comment). ``release`` then gives ready rows their
``sequence`` under a transaction-scoped advisory lock, so releases are serialized across
replicas and sequence order is exactly release commit order: a consumer that pulls with
``after_sequence`` can never miss an event that commits later with a smaller sequence.

The release transaction also stores each event, serialized (``payload``), in its outbox
row: a pull then reads bytes from one table instead of joining and re-encoding the
feedback rows. Rows released without a payload (before migration 0003) are encoded from
the feedback row at pull time.

Acknowledging an event deletes its outbox row: the feedback row is the record, the outbox
only a delivery queue, and a DELETE costs PostgreSQL far less than an UPDATE that kept
the row (no new tuple, no index entries), which is most of what the ingest side's drain
rate waits on. The counter row keeps the released and acknowledged totals exact. Rows
that carry ``acknowledged_at`` (acknowledged by an UPDATE, under an older revision) are
left alone.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

import asyncpg

from feedback_svc.domain import (
    STATUS_PENDING,
    STATUS_SCORED,
    OutboxEvent,
    OutboxStatus,
    SentimentScore,
)

# Texts -> scores in order; raises to leave the claimed rows pending.
Scorer = Callable[[Sequence[str]], Awaitable[list[SentimentScore]]]
# A released event -> its serialized wire form (the ``payload`` column).
Encoder = Callable[[OutboxEvent], bytes]

RELEASE_LOCK_KEY = 0x46424F5554  # "FBOUT"
RELEASE_BATCH = 5000


# The outbox rows of the feedback rows that the feedback repository's INSERT just wrote: a
# CTE over that statement's ``inserted`` (id, tenant_id, sentiment_status, created_at), so
# that a feedback row and its outbox row commit together in one statement.
def enqueue_inserted_cte(traceparent_source: str) -> str:
    """The CTE that enqueues the rows of an ``inserted`` CTE, each with its submission's
    trace context: ``traceparent_source`` is the select list's last item and its FROM
    (``inserted`` aliased ``i``)."""
    return f"""outbox AS (
    INSERT INTO feedback_outbox (feedback_id, tenant_id, ready, created_at, traceparent)
    SELECT i.id, i.tenant_id, i.sentiment_status <> '{STATUS_PENDING}', i.created_at,
        {traceparent_source}
)"""


# Only what an event carries: decoding comments and metadata back would cost more than
# the release itself.
_F_COLUMNS = (
    "f.id AS feedback_id, f.tenant_id, f.user_id, f.feedback_type, f.execution_id, f.agent_id,"
    " f.chat_session_id, f.rating, f.sentiment, f.sentiment_score,"
    " f.comment IS NOT NULL AS has_comment, f.tags, f.created_at, o.traceparent"
)

# Release = one SELECT that numbers the next ready rows (with the event columns) and one
# UPDATE that stores sequence, released_at and the serialized event together: one new
# tuple per row instead of two (sequence, then payload), so less PostgreSQL CPU per
# released row.
# An outbox row of a live feedback carries the feedback as it is now (its current revision:
# a row enqueued by an older change is released with the newer state, which ingest then
# applies once); a row of a retracted feedback carries the retraction (feedback_retracted:
# id, tenant, type, created_at and the revision of the retraction, nothing of the user).
RELEASE_SELECT_SQL = f"""
SELECT nextval('feedback_outbox_sequence') AS sequence, clock_timestamp() AS released_at, t.*
FROM (
    SELECT * FROM (
        SELECT {_F_COLUMNS}, f.revision, false AS deleted, o.revision AS outbox_revision
        FROM feedback_outbox o JOIN feedback f ON f.id = o.feedback_id
        WHERE o.ready AND o.sequence IS NULL
        UNION ALL
        SELECT d.id, d.tenant_id, '', d.feedback_type, NULL, NULL, NULL, 0, NULL, NULL, false,
            '[]'::jsonb, d.created_at, o.traceparent, d.revision, true, o.revision
        FROM feedback_outbox o JOIN feedback_retracted d ON d.id = o.feedback_id
        WHERE o.ready AND o.sequence IS NULL
    ) u ORDER BY feedback_id, outbox_revision LIMIT $1
) t
"""

RELEASE_UPDATE_SQL = """
WITH released AS (
    UPDATE feedback_outbox o
    SET sequence = r.sequence, released_at = r.released_at, payload = r.payload
    FROM unnest($1::bigint[], $2::bigint[], $3::timestamptz[], $4::bytea[], $5::int[])
        AS r(feedback_id, sequence, released_at, payload, revision)
    WHERE o.feedback_id = r.feedback_id AND o.revision = r.revision
    RETURNING 1
)
UPDATE feedback_outbox_totals SET released = released + (SELECT count(*) FROM released)
WHERE id = 1
"""

PULL_SQL = """
SELECT sequence, payload FROM feedback_outbox
WHERE sequence IS NOT NULL AND acknowledged_at IS NULL AND sequence > $1
ORDER BY sequence LIMIT $2
"""

# Rows released without a payload (under a revision before 0003): built from the feedback
# row.
PULL_LEGACY_SQL = f"""
SELECT o.sequence, o.released_at, {_F_COLUMNS}
FROM feedback_outbox o JOIN feedback f ON f.id = o.feedback_id
WHERE o.sequence = ANY($1::bigint[])
"""

ACK_SQL = """
WITH acked AS (
    DELETE FROM feedback_outbox
    WHERE sequence = ANY($1::bigint[]) AND acknowledged_at IS NULL
    RETURNING 1
), totals AS (
    UPDATE feedback_outbox_totals SET acknowledged = acknowledged + (SELECT count(*) FROM acked)
    WHERE id = 1 AND EXISTS (SELECT FROM acked)
)
SELECT count(*) FROM acked
"""

# Totals come from the counter row (exact: maintained by the release and acknowledge
# statements); pending rows and the oldest unacknowledged row come from partial indexes.
STATUS_SQL = f"""
SELECT t.released - t.acknowledged AS backlog,
    (SELECT count(*) FROM feedback WHERE sentiment_status = '{STATUS_PENDING}') AS pending,
    (SELECT min(created_at) FROM feedback_outbox WHERE acknowledged_at IS NULL) AS oldest,
    t.released AS released_total, t.acknowledged AS acked_total
FROM feedback_outbox_totals t WHERE t.id = 1
"""

CLAIM_PENDING_SQL = f"""
SELECT id, tenant_id, comment FROM feedback WHERE sentiment_status = '{STATUS_PENDING}'
ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED
"""

SCORE_SQL = f"""
WITH scored AS (
    UPDATE feedback f
    SET sentiment = s.label, sentiment_score = s.score, sentiment_status = '{STATUS_SCORED}',
        updated_at = clock_timestamp()
    FROM unnest($1::bigint[], $2::text[], $3::float8[]) AS s(id, label, score)
    WHERE f.id = s.id AND f.sentiment_status = '{STATUS_PENDING}'
    RETURNING f.id
)
UPDATE feedback_outbox o SET ready = true FROM scored WHERE o.feedback_id = scored.id
"""


def _event(row: asyncpg.Record) -> OutboxEvent:
    return OutboxEvent(**row)


class OutboxStore:
    def __init__(self, pool: asyncpg.Pool, encode: Encoder) -> None:
        self._pool = pool
        self._encode = encode

    async def release(self, limit: int = RELEASE_BATCH) -> list[OutboxEvent]:
        """Releases up to ``limit`` ready events; returns them in sequence order."""
        async with self._pool.acquire() as connection, connection.transaction():
            # Blocking (not try-) lock: a replica that finds another releasing waits its
            # turn instead of leaving freshly committed rows for the next poll.
            await connection.execute("SELECT pg_advisory_xact_lock($1)", RELEASE_LOCK_KEY)
            rows = await connection.fetch(RELEASE_SELECT_SQL, limit)
            events = sorted((_event(row) for row in rows), key=lambda event: event.sequence)
            if events:
                await connection.execute(
                    RELEASE_UPDATE_SQL,
                    [event.feedback_id for event in events],
                    [event.sequence for event in events],
                    [event.released_at for event in events],
                    [self._encode(event) for event in events],
                    [event.outbox_revision for event in events],
                )
        return events

    async def pull(self, after_sequence: int, max_events: int) -> list[bytes]:
        """The serialized events (released, unacknowledged, ``sequence > after_sequence``)
        in sequence order, at most ``max_events``."""
        rows = await self._pool.fetch(PULL_SQL, after_sequence, max_events)
        payloads: list[bytes | None] = [row[1] for row in rows]
        if None in payloads:
            legacy = [row[0] for row in rows if row[1] is None]
            built = {
                row["sequence"]: self._encode(_event(row))
                for row in await self._pool.fetch(PULL_LEGACY_SQL, legacy)
            }
            # A row whose feedback is gone (never: feedback rows are not deleted) is
            # dropped, as the join did before.
            payloads = [
                payload if payload is not None else built.get(row[0])
                for row, payload in zip(rows, payloads, strict=True)
            ]
        return [payload for payload in payloads if payload is not None]

    async def acknowledge(self, sequences: Sequence[int]) -> int:
        if not sequences:
            return 0
        return int(await self._pool.fetchval(ACK_SQL, list(sequences)))

    async def status(self) -> OutboxStatus:
        row = await self._pool.fetchrow(STATUS_SQL)
        assert row is not None
        oldest: datetime | None = row["oldest"]
        return OutboxStatus(
            backlog=row["backlog"],
            pending_sentiment=row["pending"],
            oldest_unacknowledged_created_at=oldest,
            released_total=row["released_total"],
            acknowledged_total=row["acked_total"],
        )

    async def rescore_pending(self, limit: int, scorer: Scorer) -> list[tuple[str, SentimentScore]]:
        """Scores up to ``limit`` pending feedback, marks their events ready; returns
        (tenant, score) of each.

        Rows are claimed with FOR UPDATE SKIP LOCKED, so replicas share the work and a row
        is completed by exactly one transaction; a failing scorer rolls the claim back.
        """
        async with self._pool.acquire() as connection, connection.transaction():
            rows = await connection.fetch(CLAIM_PENDING_SQL, limit)
            if not rows:
                return []
            scores = await scorer([row["comment"] for row in rows])
            await connection.execute(
                SCORE_SQL,
                [row["id"] for row in rows],
                [s.label for s in scores],
                [s.score for s in scores],
            )
        return [(row["tenant_id"], score) for row, score in zip(rows, scores, strict=True)]
