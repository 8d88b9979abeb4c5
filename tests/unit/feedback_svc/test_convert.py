"""The hand-written fast paths (event JSON, timestamps) equal what protobuf produces."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from google.protobuf import json_format, timestamp_pb2

from feedback_svc.convert import (
    event_json,
    event_json_reference,
    event_message,
    event_payload,
    events_response,
)
from feedback_svc.domain import FeedbackRecord, OutboxEvent
from feedbackmesh.feedback.v1 import feedback_pb2
from mesh_runtime.timestamps import to_timestamp

BASE = datetime(2026, 3, 1, 12, 30, 5, tzinfo=UTC)


def _record(**changes: object) -> FeedbackRecord:
    fields: dict[str, object] = {
        "id": 9_007_199_254_740_993, "tenant_id": "t", "user_id": "u", "feedback_type": "agent",
        "execution_id": None, "agent_id": 12, "chat_session_id": None, "rating": 4,
        "comment": "ok", "sentiment": "neutral", "sentiment_score": 0.0,
        "sentiment_status": "scored", "tags": ["a", "ü"], "metadata": {}, "request_id": "r",
        "payload_hash": "h", "created_at": BASE, "updated_at": BASE,
    }  # fmt: skip
    fields.update(changes)
    return FeedbackRecord(**fields)  # type: ignore[arg-type]


CASES = [
    _record(),
    _record(feedback_type="execution", agent_id=None, execution_id=5, sentiment="negative",
            sentiment_score=-0.4321, created_at=BASE + timedelta(microseconds=123456)),
    _record(feedback_type="chat", agent_id=None, chat_session_id="c-1", comment=None,
            sentiment=None, sentiment_score=None, sentiment_status="no_comment", tags=[],
            created_at=BASE + timedelta(milliseconds=7)),
    _record(feedback_type="general", agent_id=None, sentiment="positive", sentiment_score=1.0,
            created_at=datetime(2026, 3, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))),
]  # fmt: skip


@pytest.mark.parametrize("record", CASES)
def test_event_json_matches_json_format(record: FeedbackRecord) -> None:
    event = OutboxEvent(
        sequence=77, feedback_id=record.id, tenant_id=record.tenant_id, user_id=record.user_id,
        feedback_type=record.feedback_type, execution_id=record.execution_id,
        agent_id=record.agent_id, chat_session_id=record.chat_session_id, rating=record.rating,
        sentiment=record.sentiment, sentiment_score=record.sentiment_score,
        has_comment=record.comment is not None, tags=record.tags,
        created_at=record.created_at, released_at=BASE + timedelta(seconds=1),
    )  # fmt: skip
    fast = event_json(event)
    assert json.loads(fast) == json.loads(event_json_reference(event))
    parsed = json_format.Parse(fast, feedback_pb2.FeedbackEvent())
    assert parsed.feedback_id == record.id and parsed.sequence == 77
    assert "\n" not in fast


def test_events_response_from_payloads_equals_built_messages() -> None:
    # fmt: off
    events = [
        OutboxEvent(
            sequence=n + 1, feedback_id=r.id + n, tenant_id=r.tenant_id, user_id=r.user_id,
            feedback_type=r.feedback_type, execution_id=r.execution_id, agent_id=r.agent_id,
            chat_session_id=r.chat_session_id, rating=r.rating, sentiment=r.sentiment,
            sentiment_score=r.sentiment_score, has_comment=r.comment is not None,
            tags=r.tags if n != 1 else [f"tag-{i}" for i in range(40)],  # > 127 bytes
            created_at=r.created_at, released_at=BASE + timedelta(seconds=n),
        )
        for n, r in enumerate(CASES)
    ]
    # fmt: on
    payloads = [event_payload(e) for e in events]
    assert any(len(p) >= 128 for p in payloads) and any(len(p) < 128 for p in payloads)
    expected = feedback_pb2.PullOutboxEventsResponse(events=[event_message(e) for e in events])
    assert events_response(payloads) == expected
    assert events_response([]) == feedback_pb2.PullOutboxEventsResponse()


@pytest.mark.parametrize(
    "value",
    [
        BASE + timedelta(microseconds=123456),
        datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=UTC),
        datetime(2026, 3, 1, 14, 0, tzinfo=timezone(timedelta(hours=2))),
    ],
)
def test_timestamp_matches_from_datetime(value: datetime) -> None:
    reference = timestamp_pb2.Timestamp()
    reference.FromDatetime(value)
    assert to_timestamp(value) == reference
