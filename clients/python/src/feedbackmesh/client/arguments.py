"""Keyword arguments of the client's calls (typed, so mypy checks every field) and the
request messages built from them.

Field names are the proto's; enums take the Python enums of ``feedbackmesh.client.enums``
(or the proto ints), times take ``datetime`` (naive ones are read as UTC).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, Required, TypedDict

from feedbackmesh.client.enums import FeedbackType, Granularity, SentimentLabel
from feedbackmesh.feedback.v1 import feedback_pb2

ExportFormat = Literal["csv", "jsonl"]
AnalyticsView = Literal["ratings", "sentiment", "usage-trends"]
Period = Literal["7d", "30d", "90d"]


class SubmitFields(TypedDict, total=False):
    """One feedback. ``request_id`` (1..128 characters, unique per tenant) makes the
    submission idempotent; when absent the client creates one."""

    feedback_type: Required[FeedbackType | int]
    rating: Required[int]
    execution_id: int
    agent_id: int
    chat_session_id: str
    comment: str
    tags: Sequence[str]
    metadata: Mapping[str, Any]
    request_id: str


class UpdateFields(TypedDict, total=False):
    """The fields of a feedback that may change; only those given are changed."""

    rating: int
    comment: str
    tags: Sequence[str]
    metadata: Mapping[str, Any]


class FeedbackFilters(TypedDict, total=False):
    """Filters of ``list`` and ``export``; absent means "any"."""

    feedback_type: FeedbackType | int
    execution_id: int
    agent_id: int
    chat_session_id: str
    min_rating: int
    max_rating: int
    sentiment: SentimentLabel | int
    tag: str
    user_id: str
    # created_at in [start_time, end_time)
    start_time: datetime
    end_time: datetime


class AnalyticsFilters(TypedDict, total=False):
    """The one request shape of every analytics view and export: the range
    [start_time, end_time) or ``period`` (whole days in ``time_zone`` ending with the day of
    end_time; not with start_time), buckets, zone and filters. Without end_time the range
    ends at the end of the current bucket; without start_time and period it spans 30 days
    (usage trends: "7d")."""

    start_time: datetime
    end_time: datetime
    period: Period
    feedback_type: FeedbackType | int
    granularity: Granularity | int
    time_zone: str
    agent_id: int
    execution_id: int
    chat_session_id: str


class RankedAnalyticsFilters(AnalyticsFilters, total=False):
    # Themes per side (sentiment) or top agents / executions (usage); default 10, at most 100.
    top_n: int


def update_request(
    feedback_id: int, etag: str, changes: UpdateFields
) -> feedback_pb2.UpdateFeedbackRequest:
    """An UpdateFeedback whose field mask names exactly the given fields (so a field set
    to its zero value, e.g. ``comment=""``, is cleared rather than ignored)."""
    feedback = feedback_pb2.Feedback(id=feedback_id, etag=etag)
    if "rating" in changes:
        feedback.rating = changes["rating"]
    if "comment" in changes:
        feedback.comment = changes["comment"]
    if "tags" in changes:
        feedback.tags.extend(changes["tags"])
    if "metadata" in changes:
        feedback.metadata.update(changes["metadata"])
    request = feedback_pb2.UpdateFeedbackRequest(feedback=feedback)
    request.update_mask.paths.extend(changes)
    return request


def new_request_id() -> str:
    return uuid.uuid4().hex


def fields_of(arguments: Mapping[str, object]) -> dict[str, Any]:
    """Keyword arguments as message constructor arguments: the proto runtime takes
    ``IntEnum`` members, ``datetime`` s, sequences and JSON-like mappings as they are."""
    return dict(arguments)


def submission(
    item: SubmitFields | feedback_pb2.SubmitFeedbackRequest,
) -> feedback_pb2.SubmitFeedbackRequest:
    """The request for one feedback, with a request_id: the given one, else a new one that
    every retry of this submission reuses. A given message is copied, not changed."""
    if isinstance(item, feedback_pb2.SubmitFeedbackRequest):
        if item.request_id:
            return item
        request = feedback_pb2.SubmitFeedbackRequest()
        request.CopyFrom(item)
    else:
        request = feedback_pb2.SubmitFeedbackRequest(**fields_of(item))
    if not request.request_id:
        request.request_id = new_request_id()
    return request
