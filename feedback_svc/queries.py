"""WHERE clauses for list/export filters and the signed keyset page token."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from feedback_svc.domain import FeedbackFilter
from mesh_runtime.page_tokens import PageTokens

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class FilterSQL:
    """A WHERE clause with numbered asyncpg parameters; always tenant-scoped."""

    where: str = ""
    args: list[Any] = field(default_factory=list)

    def add(self, condition: str, *values: Any) -> None:
        """``condition`` uses ``{}`` for each value's placeholder."""
        placeholders = []
        for value in values:
            self.args.append(value)
            placeholders.append(f"${len(self.args)}")
        clause = condition.format(*placeholders)
        self.where = f"{self.where} AND {clause}" if self.where else clause


def filter_sql(
    tenant_id: str, flt: FeedbackFilter, *, before: tuple[datetime, int] | None = None
) -> FilterSQL:
    """The tenant's rows that match ``flt``; with ``before`` = (created_at, id), only rows
    older in list order (newest first): the keyset of the next page."""
    query = FilterSQL()
    query.add("tenant_id = {}", tenant_id)
    if flt.feedback_type is not None:
        query.add("feedback_type = {}", flt.feedback_type)
    if flt.execution_id is not None:
        query.add("execution_id = {}", flt.execution_id)
    if flt.agent_id is not None:
        query.add("agent_id = {}", flt.agent_id)
    if flt.chat_session_id is not None:
        query.add("chat_session_id = {}", flt.chat_session_id)
    if flt.min_rating is not None:
        query.add("rating >= {}", flt.min_rating)
    if flt.max_rating is not None:
        query.add("rating <= {}", flt.max_rating)
    if flt.sentiment is not None:
        query.add("sentiment = {}", flt.sentiment)
    if flt.tag is not None:
        # JSONB containment uses the GIN index on tags.
        query.add("tags @> {}::jsonb", [flt.tag])  # the pool's jsonb codec encodes it
    if flt.start_time is not None:
        query.add("created_at >= {}", flt.start_time)
    if flt.end_time is not None:
        query.add("created_at < {}", flt.end_time)
    if flt.user_id is not None:
        query.add("user_id = {}", flt.user_id)
    if before is not None:
        query.add("(created_at, id) < ({}, {})", *before)
    return query


def encode_page_token(
    tokens: PageTokens, tenant_id: str, created_at: datetime, feedback_id: int
) -> str:
    # Integer microseconds: a float timestamp would round and skip or repeat rows.
    micros = (created_at - _EPOCH) // timedelta(microseconds=1)
    return tokens.encode(tenant_id, (micros, feedback_id))


def decode_page_token(tokens: PageTokens, tenant_id: str, token: str) -> tuple[datetime, int]:
    micros, feedback_id = tokens.decode(tenant_id, token, 2)
    return _EPOCH + timedelta(microseconds=micros), feedback_id
