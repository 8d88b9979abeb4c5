"""PostgreSQL access of the feedback service: SQL over the process's asyncpg pool.

The hot path uses asyncpg prepared statements directly (one round trip per submission,
no ORM objects).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from feedback_svc.domain import (
    STATUS_NO_COMMENT,
    STATUS_PENDING,
    STATUS_SCORED,
    FeedbackFilter,
    FeedbackRecord,
    NewFeedback,
    SentimentLabel,
    SentimentScore,
    SentimentStatus,
)
from feedback_svc.outbox import enqueue_inserted_cte
from feedback_svc.queries import filter_sql

FEEDBACK_COLUMNS = (
    "id, tenant_id, user_id, feedback_type, execution_id, agent_id, chat_session_id, rating,"
    " comment, sentiment, sentiment_score, sentiment_status, tags, metadata, request_id,"
    " payload_hash, created_at, updated_at, revision"
)

_TAGS_JSON = json.JSONEncoder(ensure_ascii=False)
_INSERT_COLUMNS = (
    "tenant_id, user_id, request_id, feedback_type, execution_id, agent_id, chat_session_id,"
    " rating, comment, sentiment, sentiment_score, sentiment_status, tags, metadata,"
    " payload_hash"
)


def _insert_tail(traceparent_source: str) -> str:
    """The rest of an INSERT: the outbox rows (with each submission's trace context, from
    ``traceparent_source``) and what the caller gets back."""
    return f"""
    ON CONFLICT (tenant_id, request_id) DO NOTHING
    RETURNING id, tenant_id, request_id, sentiment_status, created_at, updated_at
), {enqueue_inserted_cte(traceparent_source)}
SELECT id, tenant_id, request_id, created_at, updated_at FROM inserted
"""  # noqa: S608 (constant fragments; values are $n parameters)


# One statement = one implicit transaction: the feedback rows and their outbox rows commit
# together. ON CONFLICT DO NOTHING leaves retries of a request_id to the caller's re-select.
# Batches pass one array per column (one round trip for up to 500 rows) ...
INSERT_MANY_SQL = f"""
WITH inserted AS (
    INSERT INTO feedback ({_INSERT_COLUMNS})
    SELECT tenant_id, user_id, request_id, feedback_type, execution_id, agent_id,
        chat_session_id, rating, comment, sentiment, sentiment_score, sentiment_status,
        tags::jsonb, metadata::jsonb, payload_hash
    FROM unnest(
        $1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[],
        $7::text[], $8::smallint[], $9::text[], $10::text[], $11::float8[], $12::text[],
        $13::text[], $14::text[], $15::text[]
    ) AS t({_INSERT_COLUMNS})
    {
    _insert_tail(
        "c.traceparent FROM inserted i LEFT JOIN unnest($1::text[], $3::text[],"
        " $16::text[]) AS c(tenant_id, request_id, traceparent)"
        " ON c.tenant_id = i.tenant_id AND c.request_id = i.request_id"
    )
}"""  # noqa: S608 (constant fragments; values are $n parameters)
# ... a single submission plain parameters: asyncpg's array encoding costs more per
# element than the rest of the call.
INSERT_ONE_SQL = f"""
WITH inserted AS (
    INSERT INTO feedback ({_INSERT_COLUMNS})
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::text::jsonb,
        $14::text::jsonb, $15)
    {_insert_tail("$16::text FROM inserted i")}"""  # noqa: S608 (constant fragments)

SELECT_BY_REQUEST_SQL = f"""
SELECT {FEEDBACK_COLUMNS} FROM feedback WHERE tenant_id = $1 AND request_id = ANY($2::text[])
"""  # noqa: S608 (constant fragments; values are $n parameters)
# Constant fragments; values are $n parameters.
SELECT_BY_ID_SQL = f"SELECT {FEEDBACK_COLUMNS} FROM feedback WHERE tenant_id = $1 AND id = $2"  # noqa: S608


# A change and its outbox row commit in one statement, as a submission does. The change
# applies only to the revision the caller read (optimistic concurrency: no row back means
# changed or gone since). Unreleased outbox rows of the feedback wait with the new one
# while its comment awaits scoring: they would be released with the new state anyway.
UPDATE_SQL = f"""
WITH updated AS (
    UPDATE feedback SET rating = $3, comment = $4, sentiment = $5, sentiment_score = $6,
        sentiment_status = $7, tags = $8::text::jsonb, metadata = $9::text::jsonb,
        revision = revision + 1, updated_at = clock_timestamp()
    WHERE tenant_id = $1 AND id = $2 AND revision = $10
    RETURNING {FEEDBACK_COLUMNS}
), held AS (
    UPDATE feedback_outbox o SET ready = u.sentiment_status <> '{STATUS_PENDING}'
    FROM updated u WHERE o.feedback_id = u.id AND o.sequence IS NULL
), outbox AS (
    INSERT INTO feedback_outbox (feedback_id, revision, tenant_id, ready, created_at, traceparent)
    SELECT id, revision, tenant_id, sentiment_status <> '{STATUS_PENDING}', created_at, $11
    FROM updated
)
SELECT * FROM updated
"""  # noqa: S608 (constant fragments; values are $n parameters)

# A retraction removes the row (comment, tags, metadata, user) and leaves in
# feedback_retracted only what ingest needs to take the feedback out of ClickHouse.
DELETE_SQL = """
WITH gone AS (
    DELETE FROM feedback WHERE tenant_id = $1 AND id = $2 AND ($3 = 0 OR revision = $3)
    RETURNING id, tenant_id, feedback_type, revision + 1 AS revision, created_at
), retracted AS (
    INSERT INTO feedback_retracted (id, tenant_id, feedback_type, revision, created_at)
    SELECT id, tenant_id, feedback_type, revision, created_at FROM gone
), held AS (
    UPDATE feedback_outbox o SET ready = true FROM gone g
    WHERE o.feedback_id = g.id AND o.sequence IS NULL
), outbox AS (
    INSERT INTO feedback_outbox (feedback_id, revision, tenant_id, ready, created_at, traceparent)
    SELECT id, revision, tenant_id, true, created_at, $4 FROM gone
)
SELECT revision FROM gone
"""


def record_from_row(row: asyncpg.Record | dict[str, Any]) -> FeedbackRecord:
    return FeedbackRecord(
        id=row["id"],
        tenant_id=row["tenant_id"],
        user_id=row["user_id"],
        feedback_type=row["feedback_type"],
        execution_id=row["execution_id"],
        agent_id=row["agent_id"],
        chat_session_id=row["chat_session_id"],
        rating=row["rating"],
        comment=row["comment"],
        sentiment=row["sentiment"],
        sentiment_score=row["sentiment_score"],
        sentiment_status=row["sentiment_status"],
        tags=row["tags"],
        metadata=row["metadata"],
        request_id=row["request_id"],
        payload_hash=row["payload_hash"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        revision=row["revision"],
    )


def _status(item: NewFeedback, score: SentimentScore | None) -> SentimentStatus:
    if item.comment is None:
        return STATUS_NO_COMMENT
    return STATUS_SCORED if score is not None else STATUS_PENDING


def _inserted_record(
    item: NewFeedback, score: SentimentScore | None, row: asyncpg.Record
) -> FeedbackRecord:
    """The stored row, from the input plus what the database assigned (the INSERT returns
    only those columns: decoding the rest back costs more than the insert itself)."""
    scored = score is not None and item.comment is not None
    return FeedbackRecord(
        id=row["id"],
        tenant_id=item.tenant_id,
        user_id=item.user_id,
        feedback_type=item.feedback_type,
        execution_id=item.execution_id,
        agent_id=item.agent_id,
        chat_session_id=item.chat_session_id,
        rating=item.rating,
        comment=item.comment,
        sentiment=score.label if scored and score is not None else None,
        sentiment_score=score.score if scored and score is not None else None,
        sentiment_status=_status(item, score),
        tags=list(item.tags),
        metadata=item.metadata,
        request_id=item.request_id,
        payload_hash=item.payload_hash,
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _values(item: NewFeedback, score: SentimentScore | None) -> tuple[Any, ...]:
    """One row's parameters, in ``_INSERT_COLUMNS`` order."""
    scored = score is not None and item.comment is not None
    return (
        item.tenant_id,
        item.user_id,
        item.request_id,
        item.feedback_type,
        item.execution_id,
        item.agent_id,
        item.chat_session_id,
        item.rating,
        item.comment,
        score.label if scored and score is not None else None,
        score.score if scored and score is not None else None,
        _status(item, score),
        _TAGS_JSON.encode(item.tags),
        item.metadata_json,
        item.payload_hash,
    )


def _columns(
    items: Sequence[NewFeedback], scores: Sequence[SentimentScore | None]
) -> list[list[Any]]:
    """The rows transposed into one array per column (for unnest)."""
    rows = [_values(item, score) for item, score in zip(items, scores, strict=True)]
    return [list(column) for column in zip(*rows, strict=True)]


class FeedbackRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @property
    def pool(self) -> asyncpg.Pool:
        return self._pool

    async def insert_many(
        self,
        items: Sequence[NewFeedback],
        scores: Sequence[SentimentScore | None],
        traceparents: Sequence[str | None],
    ) -> list[FeedbackRecord]:
        """Inserts the items not yet present (by tenant + request_id); returns those inserted.
        Each outbox row keeps its submission's trace context (``traceparents``)."""
        if len(items) == 1:
            values = _values(items[0], scores[0])
            rows = await self._pool.fetch(INSERT_ONE_SQL, *values, traceparents[0])
            return [_inserted_record(items[0], scores[0], row) for row in rows]
        columns = _columns(items, scores)
        rows = await self._pool.fetch(INSERT_MANY_SQL, *columns, list(traceparents))
        pairs = zip(items, scores, strict=True)
        # Coalesced submissions mix tenants: a request_id is unique per tenant only.
        by_key = {(item.tenant_id, item.request_id): (item, score) for item, score in pairs}
        return [
            _inserted_record(*by_key[(row["tenant_id"], row["request_id"])], row) for row in rows
        ]

    async def by_request_ids(self, tenant_id: str, request_ids: list[str]) -> list[FeedbackRecord]:
        rows = await self._pool.fetch(SELECT_BY_REQUEST_SQL, tenant_id, request_ids)
        return [record_from_row(row) for row in rows]

    async def get(self, tenant_id: str, feedback_id: int) -> FeedbackRecord | None:
        row = await self._pool.fetchrow(SELECT_BY_ID_SQL, tenant_id, feedback_id)
        return record_from_row(row) if row is not None else None

    async def update(
        self,
        record: FeedbackRecord,
        item: NewFeedback,
        score: tuple[SentimentLabel | None, float | None, SentimentStatus],
        traceparent: str | None,
    ) -> FeedbackRecord | None:
        """Applies ``item``'s mutable fields to ``record``'s revision; None when the row
        changed or disappeared since ``record`` was read."""
        label, value, status = score
        row = await self._pool.fetchrow(
            UPDATE_SQL, record.tenant_id, record.id, item.rating, item.comment, label, value,
            status, _TAGS_JSON.encode(item.tags), item.metadata_json, record.revision,
            traceparent,
        )  # fmt: skip
        return record_from_row(row) if row is not None else None

    async def delete(
        self, tenant_id: str, feedback_id: int, revision: int, traceparent: str | None
    ) -> bool:
        """Retracts the feedback (only at ``revision`` unless 0); False when not there."""
        gone = await self._pool.fetchval(DELETE_SQL, tenant_id, feedback_id, revision, traceparent)
        return gone is not None

    async def list_page(
        self,
        tenant_id: str,
        flt: FeedbackFilter,
        before: tuple[datetime, int] | None,
        limit: int,
    ) -> list[FeedbackRecord]:
        """Newest first; ``before`` = (created_at, id) of the previous page's last row."""
        query = filter_sql(tenant_id, flt, before=before)
        # The WHERE clause is filter_sql's: fixed conditions, every value a $n parameter.
        sql = (
            f"SELECT {FEEDBACK_COLUMNS} FROM feedback WHERE {query.where}"  # noqa: S608
            f" ORDER BY created_at DESC, id DESC LIMIT {int(limit)}"
        )
        rows = await self._pool.fetch(sql, *query.args)
        return [record_from_row(row) for row in rows]

    async def stream(
        self, tenant_id: str, flt: FeedbackFilter, prefetch: int = 250
    ) -> AsyncIterator[FeedbackRecord]:
        """Oldest first, through a server-side cursor: memory stays flat for any row count."""
        query = filter_sql(tenant_id, flt)
        # The WHERE clause is filter_sql's: fixed conditions, every value a $n parameter.
        sql = (
            f"SELECT {FEEDBACK_COLUMNS} FROM feedback WHERE {query.where}"  # noqa: S608
            " ORDER BY created_at, id"
        )
        async with self._pool.acquire() as connection, connection.transaction(readonly=True):
            async for row in connection.cursor(sql, *query.args, prefetch=prefetch):
                yield record_from_row(row)
