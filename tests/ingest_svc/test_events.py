"""FeedbackEvent -> row conversion: the whole-column fast path and the row-by-row
fallback must agree with ``problems_of`` on every rule."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
from test_direct import make_events

from feedbackmesh.feedback.v1 import feedback_pb2
from feedbackmesh.sentiment.v1 import sentiment_pb2
from ingest_svc.events import convert, problems_of

Breaker = Callable[[feedback_pb2.FeedbackEvent], None]


def _set(field: str, value: object) -> Breaker:
    return lambda event: setattr(event, field, value)


BREAKERS: dict[str, Breaker] = {
    "feedback_id 0": _set("feedback_id", 0),
    "negative sequence": _set("sequence", -1),
    "empty tenant": _set("tenant_id", ""),
    "long tenant": _set("tenant_id", "t" * 4097),
    "long user": _set("user_id", "u" * 4097),
    "long chat session": _set("chat_session_id", "c" * 4097),
    "unknown type": _set("feedback_type", 9),
    "negative execution": _set("execution_id", -1),
    "negative agent": _set("agent_id", -2),
    "rating 0": _set("rating", 0),
    "rating 6": _set("rating", 6),
    "unknown sentiment": _set("sentiment", 7),
    "sentiment without comment": _set("has_comment", False),
    "score above 1": _set("sentiment_score", 1.5),
    "score below -1": _set("sentiment_score", -1.01),
    "score NaN": _set("sentiment_score", math.nan),
    "no created_at": lambda event: event.ClearField("created_at"),
}


@pytest.mark.parametrize("rule", sorted(BREAKERS))
@pytest.mark.parametrize("position", [0, 3, 7])
def test_each_rule_poisons_only_its_event(rule: str, position: int) -> None:
    events = make_events("tenant", 8, 100)
    BREAKERS[rule](events[position])
    assert problems_of(events[position])
    rows, poisoned, sources = convert(events)
    assert [p.event for p in poisoned] == [events[position]]
    assert poisoned[0].error == "; ".join(problems_of(events[position]))
    expected = [100 + i for i in range(8) if i != position]
    assert rows.ids == expected
    assert [e.feedback_id for e in sources] == expected
    assert all(len(column) == 7 for column in rows.columns)


def test_valid_batch_converts_every_field() -> None:
    events = make_events("tenant", 5, 10)
    events[2].sentiment = sentiment_pb2.SENTIMENT_LABEL_UNSPECIFIED
    events[2].has_comment, events[2].sentiment_score = False, 0.9
    events[3].ClearField("released_at")
    rows, poisoned, sources = convert(events)
    assert poisoned == [] and sources == events
    by_row = list(zip(*rows.columns, strict=True))
    for event, row in zip(events, by_row, strict=True):
        created = event.created_at.seconds * 1_000_000 + event.created_at.nanos // 1000
        released = event.released_at.seconds * 1_000_000 if event.HasField("released_at") else 0
        assert row == (
            event.feedback_id, event.sequence, event.tenant_id, event.user_id,
            event.feedback_type, event.execution_id, event.agent_id, event.chat_session_id,
            event.rating, event.sentiment,
            event.sentiment_score if event.sentiment else 0.0,  # no label: no score
            list(event.tags), created, released or created, event.revision,
        )  # fmt: skip


def test_duplicates_in_a_batch_keep_the_first() -> None:
    events = make_events("tenant", 4, 1)
    events[2].feedback_id = 1
    events[2].rating = 5
    rows, poisoned, sources = convert(events)
    assert rows.ids == [1, 2, 4] and poisoned == []
    assert rows.columns[8][0] == events[0].rating
    assert sources == [events[0], events[1], events[3]]


def test_empty_batch() -> None:
    rows, poisoned, sources = convert([])
    assert len(rows) == 0 and poisoned == [] and sources == []
