"""Domain objects of the feedback service: plain dataclasses, no protobuf."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal, get_args

from mesh_runtime.errors import FieldViolation

# The vocabulary, as Literal types: rows and messages keep plain ``str`` values (no
# conversion per row on the list, export and outbox paths) and mypy checks every spelling.
FeedbackType = Literal["execution", "agent", "chat", "general"]
SentimentLabel = Literal["positive", "neutral", "negative"]
SentimentStatus = Literal["no_comment", "pending", "scored"]
BatchItemStatus = Literal["created", "duplicate", "invalid", "conflict"]

FEEDBACK_TYPES: Final[tuple[FeedbackType, ...]] = get_args(FeedbackType)
SENTIMENT_LABELS: Final[tuple[SentimentLabel, ...]] = get_args(SentimentLabel)
BATCH_ITEM_STATUSES: Final[tuple[BatchItemStatus, ...]] = get_args(BatchItemStatus)
STATUS_NO_COMMENT: Final[SentimentStatus] = "no_comment"
STATUS_PENDING: Final[SentimentStatus] = "pending"
STATUS_SCORED: Final[SentimentStatus] = "scored"
# One encoder object: json.dumps with options builds a new encoder per call.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class RawSubmission:
    """A submission as received, before validation. ``feedback_type`` is None when unset
    and an unknown value's number as text when the enum value is not known."""

    request_id: str
    feedback_type: str | None
    execution_id: int
    agent_id: int
    chat_session_id: str
    rating: int
    comment: str
    tags: list[str]
    metadata: dict[str, Any]
    # The metadata's size as received (protobuf wire bytes): bounded before conversion.
    metadata_wire_bytes: int = 0


@dataclass(frozen=True, slots=True)
class NewFeedback:
    """A validated, normalized submission of one user of one tenant."""

    tenant_id: str
    user_id: str
    request_id: str
    feedback_type: FeedbackType
    execution_id: int | None
    agent_id: int | None
    chat_session_id: str | None
    rating: int
    comment: str | None
    tags: tuple[str, ...]
    metadata: dict[str, Any]
    metadata_json: str
    payload_hash: str = field(init=False)

    def __post_init__(self) -> None:
        # The user is part of the payload: another user reusing a request_id is a conflict.
        canonical = _CANONICAL.encode(
            [
                self.user_id,
                self.feedback_type,
                self.execution_id,
                self.agent_id,
                self.chat_session_id,
                self.rating,
                self.comment,
                list(self.tags),
                self.metadata,
            ]
        )
        object.__setattr__(self, "payload_hash", hashlib.sha256(canonical.encode()).hexdigest())


@dataclass(frozen=True, slots=True)
class SentimentScore:
    label: SentimentLabel
    score: float


@dataclass(frozen=True, slots=True)
class FeedbackRecord:
    id: int
    tenant_id: str
    user_id: str
    feedback_type: FeedbackType
    execution_id: int | None
    agent_id: int | None
    chat_session_id: str | None
    rating: int
    comment: str | None
    sentiment: SentimentLabel | None
    sentiment_score: float | None
    sentiment_status: SentimentStatus
    tags: list[str]
    metadata: dict[str, Any]
    request_id: str
    payload_hash: str
    created_at: datetime
    updated_at: datetime
    # 1 when submitted, +1 per change.
    revision: int = 1

    @property
    def etag(self) -> str:
        # Opaque to clients; the revision alone names a state of this feedback.
        return f'W/"{self.revision}"'


# The fields UpdateFeedback may change (AIP-134 paths).
MUTABLE_FIELDS: Final[tuple[str, ...]] = ("rating", "comment", "tags", "metadata")


@dataclass(frozen=True, slots=True)
class FeedbackPatch:
    """The new values of an UpdateFeedback; only the fields in ``paths`` are applied."""

    paths: frozenset[str]
    rating: int = 0
    comment: str = ""
    tags: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)
    metadata_wire_bytes: int = 0


@dataclass(frozen=True, slots=True)
class SubmitOutcome:
    record: FeedbackRecord
    duplicate: bool


@dataclass(frozen=True, slots=True)
class BatchItemOutcome:
    index: int
    status: BatchItemStatus
    record: FeedbackRecord | None = None
    violations: tuple[FieldViolation, ...] = ()


@dataclass(frozen=True, slots=True)
class FeedbackFilter:
    feedback_type: FeedbackType | None = None
    execution_id: int | None = None
    agent_id: int | None = None
    chat_session_id: str | None = None
    min_rating: int | None = None
    max_rating: int | None = None
    sentiment: SentimentLabel | None = None
    tag: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    user_id: str | None = None


@dataclass(frozen=True, slots=True)
class FeedbackPage:
    records: list[FeedbackRecord]
    next_page_token: str


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    """A released feedback as the analytics side sees it: no comment text, no metadata."""

    sequence: int
    feedback_id: int
    tenant_id: str
    user_id: str
    feedback_type: FeedbackType
    execution_id: int | None
    agent_id: int | None
    chat_session_id: str | None
    rating: int
    sentiment: SentimentLabel | None
    sentiment_score: float | None
    has_comment: bool
    tags: list[str]
    created_at: datetime
    released_at: datetime
    # The submission's W3C trace context (None for rows from before it was stored).
    traceparent: str | None = None
    # The feedback's revision, and whether it was retracted at it (then only the id,
    # tenant, type and created_at are meaningful).
    revision: int = 1
    deleted: bool = False
    # The outbox row's own revision (which change enqueued it): its key with feedback_id.
    outbox_revision: int = 1


@dataclass(frozen=True, slots=True)
class OutboxStatus:
    backlog: int
    pending_sentiment: int
    oldest_unacknowledged_created_at: datetime | None
    released_total: int
    acknowledged_total: int
