"""FeedbackEvent -> feedback_events row: validation and conversion (pure, no I/O).

An event that fails here is *poison*: no retry can fix it, so it is parked (see
repository.park_poison) and acknowledged instead of blocking the rows behind it.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from datetime import date
from operator import attrgetter, not_, or_
from typing import Any

from google.protobuf import json_format, timestamp_pb2

from feedbackmesh.feedback.v1 import feedback_pb2
from feedbackmesh.ingest.v1 import ingest_pb2

_UINT64_MAX = 2**64 - 1
_FEEDBACK_TYPES = frozenset({1, 2, 3, 4})  # FeedbackType values = Enum8 values
_SENTIMENTS = frozenset({0, 1, 2, 3})  # SentimentLabel values; 0 (UNSPECIFIED) = 'no_comment'
_MAX_STRING = 4096
MICROS_PER_DAY = 86_400_000_000
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


class PoisonEvent(ValueError):
    """An event that can never become a valid row."""


@dataclass(frozen=True, slots=True)
class Poisoned:
    event: feedback_pb2.FeedbackEvent
    error: str


@dataclass(frozen=True, slots=True)
class Rows:
    """Rows column by column, in ``schema.EVENT_COLUMNS`` order then the revision (the
    insert format). Times are integer microseconds since the epoch, UTC (DateTime64(6)
    ticks)."""

    columns: list[list[Any]]

    def __len__(self) -> int:
        return len(self.columns[0])

    @property
    def ids(self) -> list[int]:
        return self.columns[0]

    @property
    def tenants(self) -> list[str]:
        return self.columns[2]

    @property
    def created_micros(self) -> list[int]:
        return self.columns[12]

    @property
    def released_micros(self) -> list[int]:
        return self.columns[13]

    @property
    def revisions(self) -> list[int]:
        return self.columns[14]

    def days(self) -> list[date]:
        """The distinct UTC dates of created_at."""
        return [
            date.fromordinal(_EPOCH_ORDINAL + day)
            for day in sorted({m // MICROS_PER_DAY for m in self.created_micros})
        ]

    def take(self, indices: list[int]) -> Rows:
        return Rows([[column[i] for i in indices] for column in self.columns])


def parse_event(payload: bytes | str) -> feedback_pb2.FeedbackEvent:
    """A pub/sub message (proto3 JSON, proto field names) -> FeedbackEvent."""
    event = feedback_pb2.FeedbackEvent()
    json_format.Parse(payload, event, ignore_unknown_fields=True)
    return event


def _micros(stamp: timestamp_pb2.Timestamp) -> int:
    # Microseconds, like PostgreSQL and DateTime64(6).
    micros: int = stamp.seconds * 1_000_000 + stamp.nanos // 1000
    return micros


def problems_of(event: feedback_pb2.FeedbackEvent) -> list[str]:
    """Why ``event`` can never be a valid row (empty when it is fine)."""
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
    if _micros(event.created_at) <= 0:
        problems.append("created_at is missing")
    return problems


def validate_event(event: feedback_pb2.FeedbackEvent) -> None:
    """Raises PoisonEvent when ``event`` can never be a valid row."""
    problems = problems_of(event)
    if problems:
        raise PoisonEvent("; ".join(problems))


def convert(
    events: list[feedback_pb2.FeedbackEvent],
) -> tuple[Rows, list[Poisoned], list[feedback_pb2.FeedbackEvent]]:
    """Valid rows (one per feedback id, first seen wins), the poisoned events, and the
    events the rows came from (in row order).

    Column-wise on purpose: one C-level pass per field over the upb messages, then
    checks over whole columns (min/max/set), is the cheapest way through the hot loop
    of ingestion; only a batch that fails them is checked row by row."""

    def column(name: str) -> list[Any]:
        return list(map(attrgetter(name), events))

    def micros(name: str) -> list[int]:
        return list(map(_micros, map(attrgetter(name), events)))

    ids, sequences, tenants = column("feedback_id"), column("sequence"), column("tenant_id")
    users, types, executions = column("user_id"), column("feedback_type"), column("execution_id")
    agents, chats, ratings = column("agent_id"), column("chat_session_id"), column("rating")
    sentiments, scores = column("sentiment"), column("sentiment_score")
    comments, created, released = column("has_comment"), micros("created_at"), micros("released_at")
    columns: list[list[Any]] = [
        ids, sequences, tenants, users, types, executions, agents, chats, ratings, sentiments,
        # A feedback without a score counts 0 in the score sum, by contract.
        [score if sentiment else 0.0 for score, sentiment in zip(scores, sentiments, strict=True)],
        [e.tags[:] for e in events],  # a slice: the fastest copy out of upb
        created,
        [r if r > 0 else c for r, c in zip(released, created, strict=True)],
        column("revision"),
    ]  # fmt: skip
    rows = Rows(columns)
    if not events or (
        len(set(ids)) == len(ids)
        and min(ids) > 0 and max(ids) <= _UINT64_MAX
        and min(sequences) >= 0
        and min(map(len, tenants)) > 0 and max(map(len, tenants)) <= _MAX_STRING
        and max(map(len, users)) <= _MAX_STRING and max(map(len, chats)) <= _MAX_STRING
        and _FEEDBACK_TYPES.issuperset(types) and _SENTIMENTS.issuperset(sentiments)
        and min(executions) >= 0 and min(agents) >= 0
        and min(ratings) >= 1 and max(ratings) <= 5
        and all(map(or_, comments, map(not_, sentiments)))
        and min(scores) >= -1.0 and max(scores) <= 1.0
        and not any(map(math.isnan, scores))  # min/max skip a NaN
        and min(created) > 0
    ):  # fmt: skip
        return rows, [], list(events)
    keep: list[int] = []
    poisoned: list[Poisoned] = []
    seen: set[int] = set()
    for i, event in enumerate(events):
        if ids[i] in seen:
            continue
        problems = problems_of(event)
        if problems:
            poisoned.append(Poisoned(event, "; ".join(problems)))
            continue
        seen.add(ids[i])
        keep.append(i)
    return rows.take(keep), poisoned, [events[i] for i in keep]


def latest(events: list[feedback_pb2.FeedbackEvent]) -> list[feedback_pb2.FeedbackEvent]:
    """One event per feedback id: the highest revision (the first seen among equals). An
    event carries the whole state at its revision, so the newest one is all that counts."""
    ids = [event.feedback_id for event in events]
    if len(set(ids)) == len(ids):
        return events
    by_id: dict[int, feedback_pb2.FeedbackEvent] = {}
    for event in events:
        held = by_id.get(event.feedback_id)
        if held is None or event.revision > held.revision:
            by_id[event.feedback_id] = event
    return list(by_id.values())


def split_retractions(
    events: list[feedback_pb2.FeedbackEvent],
) -> tuple[list[feedback_pb2.FeedbackEvent], list[feedback_pb2.FeedbackEvent], list[Poisoned]]:
    """(live events, valid retractions, poisoned retractions). A retraction carries only
    the id, tenant, type and created_at: it is checked on those."""
    if not any(event.deleted for event in events):
        return events, [], []
    live, retractions, poisoned = [], [], []
    for event in events:
        if not event.deleted:
            live.append(event)
        elif not 0 < event.feedback_id <= _UINT64_MAX or event.revision < 1:
            poisoned.append(Poisoned(event, "a retraction needs a feedback_id and a revision"))
        elif not event.tenant_id or len(event.tenant_id) > _MAX_STRING:
            poisoned.append(Poisoned(event, "tenant_id must be 1..4096 characters"))
        elif _micros(event.created_at) <= 0:
            poisoned.append(Poisoned(event, "created_at is missing"))
        else:
            retractions.append(event)
    return live, retractions, poisoned


def days_of(events: list[feedback_pb2.FeedbackEvent]) -> set[date]:
    return {
        date.fromordinal(_EPOCH_ORDINAL + _micros(event.created_at) // MICROS_PER_DAY)
        for event in events
    }


def hour_of(event: feedback_pb2.FeedbackEvent) -> int:
    """The UTC hour of the event's created_at, as epoch seconds (its rollup bucket)."""
    return _micros(event.created_at) // 3_600_000_000 * 3600


def is_change(event: feedback_pb2.FeedbackEvent) -> bool:
    """A change or retraction (revision 1 is the submission, 0 an event from before
    revisions): the rows it supersedes must go and its rollup hour be recomputed."""
    return event.deleted or event.revision > 1


# The journal keeps the exact events of an in-flight insert so a restart can replay it
# verbatim: conversion is deterministic, so the same events give the same rows. Binary
# protobuf (base64 in a String column) is far cheaper than JSON rows.


def events_to_payload(events: list[feedback_pb2.FeedbackEvent]) -> str:
    message = ingest_pb2.IngestEventsRequest(events=events)
    return base64.b64encode(message.SerializeToString()).decode("ascii")


def events_from_payload(payload: str) -> list[feedback_pb2.FeedbackEvent]:
    return list(ingest_pb2.IngestEventsRequest.FromString(base64.b64decode(payload)).events)


def event_to_json(event: feedback_pb2.FeedbackEvent) -> str:
    text: str = json_format.MessageToJson(event, preserving_proto_field_name=True, indent=None)
    return text
