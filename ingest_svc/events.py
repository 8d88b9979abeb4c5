"""FeedbackEvent -> feedback_events row: validation and conversion (pure, no I/O).

An event that fails here is *poison*: no retry can fix it, so it is parked (see
repository.park_poison) and acknowledged instead of blocking the rows behind it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from google.protobuf import json_format

from feedbackmesh.feedback.v1 import feedback_pb2

Row = list[Any]

_UINT64_MAX = 2**64 - 1
_FEEDBACK_TYPES = {1, 2, 3, 4}  # FeedbackType values = Enum8 values in the schema
_SENTIMENTS = {0, 1, 2, 3}  # SentimentLabel values; 0 (UNSPECIFIED) = 'no_comment'
_MAX_STRING = 4096


class PoisonEvent(ValueError):
    """An event that can never become a valid row."""


@dataclass(frozen=True, slots=True)
class Poisoned:
    event: feedback_pb2.FeedbackEvent
    error: str


def parse_event(payload: bytes | str) -> feedback_pb2.FeedbackEvent:
    """A pub/sub message (proto3 JSON, proto field names) -> FeedbackEvent."""
    event = feedback_pb2.FeedbackEvent()
    json_format.Parse(payload, event, ignore_unknown_fields=True)
    return event


def to_row(event: feedback_pb2.FeedbackEvent) -> Row:
    """The row in ``schema.EVENT_COLUMNS`` order; raises PoisonEvent when invalid."""
    problems = []
    if not 0 < event.feedback_id <= _UINT64_MAX:
        problems.append("feedback_id must be > 0")
    if event.sequence < 0:
        problems.append("sequence must be >= 0")
    if not event.tenant_id or len(event.tenant_id) > _MAX_STRING:
        problems.append("tenant_id must be 1..4096 characters")
    if len(event.user_id) > _MAX_STRING or len(event.chat_session_id) > _MAX_STRING:
        problems.append("user_id and chat_session_id must be at most 4096 characters")
    if event.feedback_type not in _FEEDBACK_TYPES:
        problems.append(f"unknown feedback_type {event.feedback_type}")
    if event.execution_id < 0 or event.agent_id < 0:
        problems.append("execution_id and agent_id must be >= 0")
    if not 1 <= event.rating <= 5:
        problems.append(f"rating {event.rating} is not in 1..5")
    if event.sentiment not in _SENTIMENTS:
        problems.append(f"unknown sentiment {event.sentiment}")
    if event.sentiment != 0 and not event.has_comment:
        problems.append("a sentiment label without a comment")
    if not -1.0 <= event.sentiment_score <= 1.0:
        problems.append(f"sentiment_score {event.sentiment_score} is not in [-1, 1]")
    if not event.HasField("created_at"):
        problems.append("created_at is missing")
    if problems:
        raise PoisonEvent("; ".join(problems))
    created = event.created_at.ToDatetime(tzinfo=UTC)
    released = (
        event.released_at.ToDatetime(tzinfo=UTC) if event.HasField("released_at") else created
    )
    return [
        event.feedback_id,
        event.sequence,
        event.tenant_id,
        event.user_id,
        event.feedback_type,
        event.execution_id,
        event.agent_id,
        event.chat_session_id,
        event.rating,
        event.sentiment,
        # A feedback without a score counts 0 in the score sum, by contract.
        event.sentiment_score if event.sentiment != 0 else 0.0,
        list(event.tags),
        created,
        released,
    ]


def convert(
    events: list[feedback_pb2.FeedbackEvent],
) -> tuple[list[Row], list[Poisoned]]:
    """Valid rows (one per feedback id, first seen wins) and the poisoned events."""
    rows: list[Row] = []
    poisoned: list[Poisoned] = []
    seen: set[int] = set()
    for event in events:
        if event.feedback_id in seen:
            continue
        try:
            row = to_row(event)
        except (PoisonEvent, ValueError, OverflowError) as exc:
            poisoned.append(Poisoned(event, str(exc)))
            continue
        seen.add(event.feedback_id)
        rows.append(row)
    return rows, poisoned


# The journal keeps the exact rows of an in-flight insert so a restart can replay it
# verbatim (same rows, same token). Datetimes travel as ISO strings.
_DATETIME_COLUMNS = (12, 13)


def rows_to_json(rows: list[Row]) -> str:
    return json.dumps(rows, default=lambda value: value.isoformat(), separators=(",", ":"))


def rows_from_json(payload: str) -> list[Row]:
    rows: list[Row] = json.loads(payload)
    for row in rows:
        for index in _DATETIME_COLUMNS:
            row[index] = datetime.fromisoformat(row[index])
    return rows


def event_to_json(event: feedback_pb2.FeedbackEvent) -> str:
    return json_format.MessageToJson(event, preserving_proto_field_name=True, indent=None)
