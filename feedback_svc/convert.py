"""Domain <-> protobuf conversions (shared by the servicer and the event publisher)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

from google.protobuf import json_format, struct_pb2

from feedback_svc.domain import (
    MUTABLE_FIELDS,
    FeedbackPatch,
    FeedbackRecord,
    FeedbackType,
    OutboxEvent,
    RawSubmission,
    SentimentLabel,
    SentimentStatus,
)
from feedback_svc.validation import MAX_METADATA_WIRE_BYTES
from feedbackmesh.feedback.v1 import feedback_pb2
from feedbackmesh.sentiment.v1 import sentiment_pb2
from mesh_runtime.timestamps import to_timestamp

TYPE_TO_PROTO: dict[FeedbackType, feedback_pb2.FeedbackType] = {
    "execution": feedback_pb2.FEEDBACK_TYPE_EXECUTION,
    "agent": feedback_pb2.FEEDBACK_TYPE_AGENT,
    "chat": feedback_pb2.FEEDBACK_TYPE_CHAT,
    "general": feedback_pb2.FEEDBACK_TYPE_GENERAL,
}
TYPE_FROM_PROTO = {v: k for k, v in TYPE_TO_PROTO.items()}
LABEL_TO_PROTO: dict[SentimentLabel, sentiment_pb2.SentimentLabel] = {
    "positive": sentiment_pb2.SENTIMENT_LABEL_POSITIVE,
    "neutral": sentiment_pb2.SENTIMENT_LABEL_NEUTRAL,
    "negative": sentiment_pb2.SENTIMENT_LABEL_NEGATIVE,
}
LABEL_FROM_PROTO = {v: k for k, v in LABEL_TO_PROTO.items()}
STATUS_TO_PROTO: dict[SentimentStatus, feedback_pb2.SentimentStatus] = {
    "no_comment": feedback_pb2.SENTIMENT_STATUS_NO_COMMENT,
    "pending": feedback_pb2.SENTIMENT_STATUS_PENDING,
    "scored": feedback_pb2.SENTIMENT_STATUS_SCORED,
}


def _label(value: SentimentLabel | None) -> sentiment_pb2.SentimentLabel:
    if value is None:
        return sentiment_pb2.SENTIMENT_LABEL_UNSPECIFIED
    return LABEL_TO_PROTO[value]


def raw_submission(request: feedback_pb2.SubmitFeedbackRequest) -> RawSubmission:
    if request.feedback_type == feedback_pb2.FEEDBACK_TYPE_UNSPECIFIED:
        kind: str | None = None
    else:
        kind = TYPE_FROM_PROTO.get(request.feedback_type, f"#{request.feedback_type}")
    metadata_bytes = request.metadata.ByteSize() if request.HasField("metadata") else 0
    return RawSubmission(
        request_id=request.request_id,
        feedback_type=kind,
        execution_id=request.execution_id,
        agent_id=request.agent_id,
        chat_session_id=request.chat_session_id,
        rating=request.rating,
        comment=request.comment,
        tags=list(request.tags),
        metadata=json_format.MessageToDict(request.metadata)
        if 0 < metadata_bytes <= MAX_METADATA_WIRE_BYTES
        else {},
        metadata_wire_bytes=metadata_bytes,
    )


def feedback_patch(request: feedback_pb2.UpdateFeedbackRequest) -> FeedbackPatch:
    """The requested change; the paths are checked by the service. An empty mask means
    the populated mutable fields (AIP-134)."""
    feedback = request.feedback
    paths = set(request.update_mask.paths)
    if "*" in paths:
        paths = (paths - {"*"}) | set(MUTABLE_FIELDS)
    if not paths:
        populated = {
            "rating": feedback.rating != 0,
            "comment": feedback.comment != "",
            "tags": len(feedback.tags) > 0,
            "metadata": feedback.HasField("metadata") and len(feedback.metadata.fields) > 0,
        }
        paths = {name for name, present in populated.items() if present}
    metadata_bytes = feedback.metadata.ByteSize() if feedback.HasField("metadata") else 0
    return FeedbackPatch(
        paths=frozenset(paths),
        rating=feedback.rating,
        comment=feedback.comment,
        tags=tuple(feedback.tags),
        metadata=json_format.MessageToDict(feedback.metadata)
        if 0 < metadata_bytes <= MAX_METADATA_WIRE_BYTES
        else {},
        metadata_wire_bytes=metadata_bytes,
    )


def feedback_message(record: FeedbackRecord) -> feedback_pb2.Feedback:
    metadata = struct_pb2.Struct()
    metadata.update(record.metadata)
    return feedback_pb2.Feedback(
        id=record.id,
        tenant_id=record.tenant_id,
        user_id=record.user_id,
        feedback_type=TYPE_TO_PROTO[record.feedback_type],
        execution_id=record.execution_id or 0,
        agent_id=record.agent_id or 0,
        chat_session_id=record.chat_session_id or "",
        rating=record.rating,
        comment=record.comment or "",
        sentiment=_label(record.sentiment),
        sentiment_score=record.sentiment_score or 0.0,
        sentiment_status=STATUS_TO_PROTO[record.sentiment_status],
        tags=record.tags,
        metadata=metadata,
        request_id=record.request_id,
        created_at=to_timestamp(record.created_at),
        updated_at=to_timestamp(record.updated_at),
        revision=record.revision,
        etag=record.etag,
    )


def event_message(event: OutboxEvent) -> feedback_pb2.FeedbackEvent:
    return feedback_pb2.FeedbackEvent(
        sequence=event.sequence,
        feedback_id=event.feedback_id,
        tenant_id=event.tenant_id,
        user_id=event.user_id,
        feedback_type=TYPE_TO_PROTO[event.feedback_type],
        execution_id=event.execution_id or 0,
        agent_id=event.agent_id or 0,
        chat_session_id=event.chat_session_id or "",
        rating=event.rating,
        sentiment=_label(event.sentiment),
        sentiment_score=event.sentiment_score or 0.0,
        has_comment=event.has_comment,
        tags=event.tags,
        created_at=to_timestamp(event.created_at),
        released_at=to_timestamp(event.released_at),
        traceparent=event.traceparent or "",
        revision=event.revision,
        deleted=event.deleted,
    )


def event_payload(event: OutboxEvent) -> bytes:
    """The event's protobuf wire form, stored in its outbox row at release."""
    payload: bytes = event_message(event).SerializeToString()
    return payload


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


# PullOutboxEventsResponse.events is field 1, length-delimited: tag byte 0x0A.
_EVENTS_TAG = b"\x0a"
_SHORT_LENGTHS = [_EVENTS_TAG + bytes([n]) for n in range(128)]


def events_response(payloads: Sequence[bytes]) -> feedback_pb2.PullOutboxEventsResponse:
    """A PullOutboxEventsResponse from serialized FeedbackEvents: the repeated field's
    wire form is joined here and parsed in C (upb), far cheaper than building each
    message from Python."""
    parts = []
    for payload in payloads:
        size = len(payload)
        parts.append(_SHORT_LENGTHS[size] if size < 128 else _EVENTS_TAG + _varint(size))
        parts.append(payload)
    response: feedback_pb2.PullOutboxEventsResponse
    response = feedback_pb2.PullOutboxEventsResponse.FromString(b"".join(parts))
    return response


def event_json_reference(event: OutboxEvent) -> str:
    """The event in proto3 JSON, as json_format prints it (slow; the reference for tests)."""
    text: str = json_format.MessageToJson(
        event_message(event), preserving_proto_field_name=True, indent=None
    )
    return text


_TYPE_NAMES = {k: feedback_pb2.FeedbackType.Name(v) for k, v in TYPE_TO_PROTO.items()}
_LABEL_NAMES = {k: sentiment_pb2.SentimentLabel.Name(v) for k, v in LABEL_TO_PROTO.items()}


def rfc3339(value: datetime) -> str:
    """proto3 JSON Timestamp: UTC, 'Z', 0/3/6 fractional digits as json_format prints them
    (isoformat: strftime costs several times more)."""
    utc = value if value.tzinfo is UTC else value.astimezone(UTC)
    text = utc.replace(tzinfo=None).isoformat()
    if utc.microsecond and utc.microsecond % 1000 == 0:
        text = text[:-3]
    return text + "Z"


def event_json(event: OutboxEvent) -> str:
    """The event in proto3 JSON (proto field names, int64 as strings, enums by name, zero
    values omitted): the same object as ``event_json_reference``, several times cheaper,
    which matters because every released event is published from the serving process."""
    body: dict[str, object] = {
        "sequence": str(event.sequence),
        "feedback_id": str(event.feedback_id),
        "tenant_id": event.tenant_id,
        "user_id": event.user_id,
        "feedback_type": _TYPE_NAMES[event.feedback_type],
    }
    if event.execution_id:
        body["execution_id"] = str(event.execution_id)
    if event.agent_id:
        body["agent_id"] = str(event.agent_id)
    if event.chat_session_id:
        body["chat_session_id"] = event.chat_session_id
    if event.rating:  # 0 only in a retraction
        body["rating"] = event.rating
    if event.sentiment is not None:
        body["sentiment"] = _LABEL_NAMES[event.sentiment]
    if event.sentiment_score:
        body["sentiment_score"] = event.sentiment_score
    if event.has_comment:
        body["has_comment"] = True
    if event.tags:
        body["tags"] = event.tags
    body["created_at"] = rfc3339(event.created_at)
    body["released_at"] = rfc3339(event.released_at)
    if event.traceparent:
        body["traceparent"] = event.traceparent
    if event.revision:
        body["revision"] = event.revision
    if event.deleted:
        body["deleted"] = True
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)
