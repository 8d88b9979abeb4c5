"""The list/export WHERE clause and the page token, without PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from feedback_svc.domain import FeedbackFilter
from feedback_svc.queries import decode_page_token, encode_page_token, filter_sql
from mesh_runtime.errors import InvalidArgument
from mesh_runtime.page_tokens import PageTokens

T0 = datetime(2026, 11, 27, 2, 18, 5, 191802, tzinfo=UTC)


def test_every_query_is_tenant_scoped() -> None:
    query = filter_sql("acme", FeedbackFilter())
    assert (query.where, query.args) == ("tenant_id = $1", ["acme"])


def test_filters_become_numbered_parameters_in_order() -> None:
    flt = FeedbackFilter(
        feedback_type="agent",
        agent_id=42,
        min_rating=2,
        max_rating=4,
        sentiment="negative",
        tag="speed",
        start_time=T0,
        user_id="u-1",
    )
    query = filter_sql("acme", flt)
    assert query.where == (
        "tenant_id = $1 AND feedback_type = $2 AND agent_id = $3 AND rating >= $4"
        " AND rating <= $5 AND sentiment = $6 AND tags @> $7::jsonb AND created_at >= $8"
        " AND user_id = $9"
    )
    assert query.args == ["acme", "agent", 42, 2, 4, "negative", ["speed"], T0, "u-1"]


def test_values_never_enter_the_sql_text() -> None:
    hostile = "x'; DROP TABLE feedback; --"
    query = filter_sql(hostile, FeedbackFilter(chat_session_id=hostile, user_id=hostile))
    assert hostile not in query.where
    assert query.args == [hostile, hostile, hostile]


def test_the_keyset_position_comes_last() -> None:
    query = filter_sql("acme", FeedbackFilter(), before=(T0, 17))
    assert query.where == "tenant_id = $1 AND (created_at, id) < ($2, $3)"
    assert query.args == ["acme", T0, 17]


def test_page_tokens_round_trip_to_the_microsecond_for_their_tenant_only() -> None:
    tokens = PageTokens(b"k" * 32)
    token = encode_page_token(tokens, "acme", T0, 17)
    assert decode_page_token(tokens, "acme", token) == (T0, 17)
    with pytest.raises(InvalidArgument) as refused:
        decode_page_token(tokens, "globex", token)
    assert [v.field for v in refused.value.violations] == ["page_token"]


@pytest.mark.parametrize("token", ["", "not-a-token", "A" * 300, "é"])
def test_malformed_page_tokens_are_invalid_arguments(token: str) -> None:
    with pytest.raises(InvalidArgument):
        decode_page_token(PageTokens(b"k" * 32), "acme", token)
