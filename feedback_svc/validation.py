"""Submission validation: every rule yields a field violation; nothing is written on any."""

from __future__ import annotations

import json
import re
from typing import Any

from feedback_svc.domain import FEEDBACK_TYPES, FeedbackType, NewFeedback, RawSubmission
from mesh_runtime.bounds import json_problem, text_problem
from mesh_runtime.errors import FieldViolation

MAX_REQUEST_ID = 128
MAX_CHAT_SESSION_ID = 128
MAX_COMMENT = 4000
MAX_TAGS = 20
MAX_METADATA_BYTES = 8 * 1024
# The Struct's wire size bound checked before it is converted at all: well above what
# 8 KiB of compact JSON takes in protobuf (each value adds a few bytes of framing).
MAX_METADATA_WIRE_BYTES = 64 * 1024
TAG_PATTERN = re.compile(r"[a-z0-9_:-]{1,64}")

_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
_FEEDBACK_TYPES: dict[str, FeedbackType] = {name: name for name in FEEDBACK_TYPES}
_TARGET_FIELD = {"execution": "execution_id", "agent": "agent_id", "chat": "chat_session_id"}


def normalize_json(value: Any) -> Any:
    """Struct numbers arrive as doubles: integral ones become ints, so hashes and stored
    JSON don't depend on how the client spelled ``1`` vs ``1.0``."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {k: normalize_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalize_json(v) for v in value]
    return value


def _check_target(raw: RawSubmission, violations: list[FieldViolation]) -> None:
    kind = raw.feedback_type
    required = _TARGET_FIELD.get(kind or "")
    present = {
        "execution_id": raw.execution_id != 0,
        "agent_id": raw.agent_id != 0,
        "chat_session_id": raw.chat_session_id != "",
    }
    for name, is_set in present.items():
        if name != required and is_set:
            violations.append(FieldViolation(name, f"must not be set for feedback_type {kind}"))
    if required is None:
        return
    if not present[required]:
        violations.append(FieldViolation(required, f"is required for feedback_type {kind}"))
    elif required == "chat_session_id":
        if not raw.chat_session_id.strip() or len(raw.chat_session_id) > MAX_CHAT_SESSION_ID:
            violations.append(FieldViolation(required, "must be 1..128 characters, not blank"))
        elif (problem := text_problem(raw.chat_session_id)) is not None:
            violations.append(FieldViolation(required, problem))
    elif (raw.execution_id if required == "execution_id" else raw.agent_id) < 0:
        violations.append(FieldViolation(required, "must be a positive id"))


def _check_comment(comment: str, violations: list[FieldViolation]) -> str | None:
    text = comment.strip()
    problem = text_problem(text)
    if problem is not None:
        violations.append(FieldViolation("comment", problem))
    if len(text) > MAX_COMMENT:
        violations.append(
            FieldViolation("comment", f"must be at most {MAX_COMMENT} characters after trimming")
        )
    return text or None


def _check_tags(tags: list[str], violations: list[FieldViolation]) -> tuple[str, ...]:
    if len(tags) > 10 * MAX_TAGS:  # before any per-tag work
        violations.append(FieldViolation("tags", f"at most {MAX_TAGS} distinct tags"))
        return ()
    seen: dict[str, None] = {}
    for index, tag in enumerate(tags):
        lowered = tag.lower()
        if TAG_PATTERN.fullmatch(lowered) is None:
            violations.append(
                FieldViolation(f"tags[{index}]", "must be 1..64 characters of [a-z0-9_:-]")
            )
        else:
            seen.setdefault(lowered, None)
    if len(seen) > MAX_TAGS:
        violations.append(FieldViolation("tags", f"at most {MAX_TAGS} distinct tags"))
    return tuple(seen)


def _check_metadata(
    raw: RawSubmission, violations: list[FieldViolation]
) -> tuple[dict[str, Any], str]:
    if raw.metadata_wire_bytes > MAX_METADATA_WIRE_BYTES:
        violations.append(FieldViolation("metadata", "must be at most 8 KiB serialized as JSON"))
        return {}, "{}"
    if not raw.metadata:
        return {}, "{}"
    problem = json_problem(raw.metadata)
    if problem is not None:
        violations.append(FieldViolation("metadata", problem))
        return {}, "{}"
    normalized = normalize_json(raw.metadata)
    try:
        encoded = _COMPACT.encode(normalized)
    except ValueError:
        violations.append(FieldViolation("metadata", "must be a JSON object of finite numbers"))
        return {}, "{}"
    if len(encoded.encode()) > MAX_METADATA_BYTES:
        violations.append(FieldViolation("metadata", "must be at most 8 KiB serialized as JSON"))
    return normalized, encoded


def validate(
    raw: RawSubmission, tenant_id: str, user_id: str
) -> NewFeedback | list[FieldViolation]:
    """The normalized feedback, or every violation found (field names relative to the item)."""
    violations: list[FieldViolation] = []
    if not 1 <= len(raw.request_id) <= MAX_REQUEST_ID or not raw.request_id.strip():
        violations.append(FieldViolation("request_id", "is required: 1..128 characters"))
    elif (problem := text_problem(raw.request_id)) is not None:
        violations.append(FieldViolation("request_id", problem))
    kind = _FEEDBACK_TYPES.get(raw.feedback_type or "")
    if raw.feedback_type is None:
        violations.append(FieldViolation("feedback_type", "is required"))
    elif kind is None:
        violations.append(FieldViolation("feedback_type", "is not a known feedback type"))
    else:
        _check_target(raw, violations)
    if not 1 <= raw.rating <= 5:
        violations.append(FieldViolation("rating", "must be an integer from 1 to 5"))
    comment = _check_comment(raw.comment, violations)
    tags = _check_tags(raw.tags, violations)
    metadata, metadata_json = _check_metadata(raw, violations)
    if violations:
        return violations
    assert kind is not None
    return NewFeedback(
        tenant_id=tenant_id,
        user_id=user_id,
        request_id=raw.request_id,
        feedback_type=kind,
        execution_id=raw.execution_id if kind == "execution" else None,
        agent_id=raw.agent_id if kind == "agent" else None,
        chat_session_id=raw.chat_session_id if kind == "chat" else None,
        rating=raw.rating,
        comment=comment,
        tags=tags,
        metadata=metadata,
        metadata_json=metadata_json,
    )
