"""Changing and retracting feedback (UpdateFeedback, DeleteFeedback): the logic, on
domain objects. Both travel to analytics like a submission: the change and its outbox
row commit in one statement (repository.UPDATE_SQL / DELETE_SQL), and the event carries
the new revision, which ingest applies only when it is newer than what it holds."""

from __future__ import annotations

from collections.abc import Callable

from feedback_svc.domain import (
    MUTABLE_FIELDS,
    STATUS_NO_COMMENT,
    STATUS_PENDING,
    STATUS_SCORED,
    FeedbackPatch,
    FeedbackRecord,
    RawSubmission,
    SentimentLabel,
    SentimentStatus,
)
from feedback_svc.repository import FeedbackRepository
from feedback_svc.sentiment_client import SentimentClient, SentimentUnavailable
from feedback_svc.validation import validate
from mesh_runtime import tracing
from mesh_runtime.auth import SCOPE_FEEDBACK_ADMIN, Principal
from mesh_runtime.errors import (
    Aborted,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)

Score = tuple[SentimentLabel | None, float | None, SentimentStatus]
_IMMUTABLE = ("feedback_type", "execution_id", "agent_id", "chat_session_id")
STALE_MESSAGE = "the feedback changed since that etag was read; read it again"


def _not_found(feedback_id: int) -> NotFound:
    # Another tenant's id, and a retracted one, look exactly like a missing one.
    return NotFound(f"feedback {feedback_id} not found")


def _check_paths(paths: frozenset[str]) -> None:
    violations = []
    for path in sorted(paths):
        if path in _IMMUTABLE:
            violations.append(FieldViolation("update_mask", f"{path} cannot be changed"))
        elif path not in MUTABLE_FIELDS:
            allowed = ", ".join(MUTABLE_FIELDS)
            violations.append(FieldViolation("update_mask", f"unknown field {path!r}: {allowed}"))
    if not paths:
        violations.append(FieldViolation("update_mask", "names no field to change"))
    if violations:
        raise InvalidArgument(violations)


class FeedbackChanges:
    def __init__(
        self,
        repository: FeedbackRepository,
        sentiment: SentimentClient,
        wake_release: Callable[[], None],
        wake_rescore: Callable[[], None],
    ) -> None:
        self._repository = repository
        self._sentiment = sentiment
        self._wake_release = wake_release
        self._wake_rescore = wake_rescore

    async def _current(self, principal: Principal, feedback_id: int, etag: str) -> FeedbackRecord:
        record = await self._repository.get(principal.tenant_id, feedback_id)
        if record is None:
            raise _not_found(feedback_id)
        if record.user_id != principal.user_id and SCOPE_FEEDBACK_ADMIN not in principal.scopes:
            raise PermissionDenied(
                f"only its author or the {SCOPE_FEEDBACK_ADMIN!r} scope may change it"
            )
        if etag and etag != record.etag:
            raise Aborted(STALE_MESSAGE)
        return record

    async def update(
        self, principal: Principal, feedback_id: int, patch: FeedbackPatch, etag: str
    ) -> FeedbackRecord:
        _check_paths(patch.paths)
        record = await self._current(principal, feedback_id, etag)
        changed = patch.paths
        # The merged feedback passes the submission's rules (the same input boundary).
        raw = RawSubmission(
            request_id=record.request_id,
            feedback_type=record.feedback_type,
            execution_id=record.execution_id or 0,
            agent_id=record.agent_id or 0,
            chat_session_id=record.chat_session_id or "",
            rating=patch.rating if "rating" in changed else record.rating,
            comment=patch.comment if "comment" in changed else record.comment or "",
            tags=list(patch.tags if "tags" in changed else record.tags),
            metadata=patch.metadata if "metadata" in changed else record.metadata,
            metadata_wire_bytes=patch.metadata_wire_bytes if "metadata" in changed else 0,
        )
        item = validate(raw, record.tenant_id, record.user_id)
        if isinstance(item, list):
            raise InvalidArgument(item)
        score: Score = (record.sentiment, record.sentiment_score, record.sentiment_status)
        if item.comment != record.comment:
            score = await self._score(item.comment)
        updated = await self._repository.update(record, item, score, tracing.current_traceparent())
        if updated is None:
            # Changed (or retracted) between our read and our write: nothing was written.
            if await self._repository.get(principal.tenant_id, feedback_id) is None:
                raise _not_found(feedback_id)
            raise Aborted(STALE_MESSAGE)
        self._wake_release()
        if updated.sentiment_status == STATUS_PENDING:
            self._wake_rescore()
        return updated

    async def _score(self, comment: str | None) -> Score:
        if comment is None:
            return None, None, STATUS_NO_COMMENT
        try:
            result = await self._sentiment.score_one(comment)
        except (SentimentUnavailable, TimeoutError):
            # Stored pending: the re-scorer completes it, then the change is released.
            return None, None, STATUS_PENDING
        return result.label, result.score, STATUS_SCORED

    async def delete(self, principal: Principal, feedback_id: int, etag: str) -> None:
        record = await self._current(principal, feedback_id, etag)
        gone = await self._repository.delete(
            record.tenant_id, feedback_id, record.revision, tracing.current_traceparent()
        )
        if not gone:
            if await self._repository.get(principal.tenant_id, feedback_id) is None:
                raise _not_found(feedback_id)
            raise Aborted(STALE_MESSAGE)
        self._wake_release()
