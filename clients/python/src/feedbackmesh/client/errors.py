"""What the client raises: one small hierarchy under ``FeedbackMeshError``.

A failed call is an ``RpcError`` subclass named after its status code, carrying the
server's ``google.rpc`` details (decoded from the ``grpc-status-details-bin`` trailer):
``field_violations`` maps each offending field to its descriptions, ``retry_delay`` is the
server's ``RetryInfo`` delay in seconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import DecodeError, Message
from google.rpc import error_details_pb2, status_pb2

if TYPE_CHECKING:
    from feedbackmesh.client.results import BatchItemResult, FailedSubmission, FlushReport
    from feedbackmesh.feedback.v1 import feedback_pb2

STATUS_DETAILS_KEY = "grpc-status-details-bin"
# The codes a call may be retried on (an idempotent one: see ``RpcError.retryable``).
RETRYABLE_CODES = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED})

_DETAIL_TYPES: dict[str, type[Message]] = {
    f"type.googleapis.com/{cls.DESCRIPTOR.full_name}": cls
    for cls in (
        error_details_pb2.BadRequest,
        error_details_pb2.RetryInfo,
        error_details_pb2.ErrorInfo,
        error_details_pb2.QuotaFailure,
        error_details_pb2.PreconditionFailure,
        error_details_pb2.ResourceInfo,
        error_details_pb2.RequestInfo,
        error_details_pb2.Help,
        error_details_pb2.LocalizedMessage,
    )
}


def by_field(
    violations: Iterable[error_details_pb2.BadRequest.FieldViolation],
) -> Mapping[str, tuple[str, ...]]:
    """Field violations grouped by field path, descriptions in the server's order."""
    grouped: dict[str, list[str]] = {}
    for violation in violations:
        grouped.setdefault(violation.field, []).append(violation.description)
    return {name: tuple(found) for name, found in grouped.items()}


class FeedbackMeshError(Exception):
    """Base of everything this client raises."""


class RpcError(FeedbackMeshError):
    """A call failed with a gRPC status (the base of the per-code classes below)."""

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        details: Sequence[Message] = (),
        *,
        attempts: int = 1,
    ) -> None:
        super().__init__(f"{code.name}: {message}" if message else code.name)
        self.code = code
        self.message = message
        self.details = tuple(details)
        self.attempts = attempts
        self.field_violations = by_field(
            violation
            for detail in self.details
            if isinstance(detail, error_details_pb2.BadRequest)
            for violation in detail.field_violations
        )
        self.retry_delay: float | None = None
        for detail in self.details:
            if isinstance(detail, error_details_pb2.RetryInfo):
                self.retry_delay = detail.retry_delay.ToTimedelta().total_seconds()

    @property
    def retryable(self) -> bool:
        """Whether an idempotent call may be sent again after this error."""
        return self.code in RETRYABLE_CODES


class InvalidArgumentError(RpcError):
    """Bad input; ``field_violations`` says which fields and why."""


class NotFoundError(RpcError):
    pass


class AlreadyExistsError(RpcError):
    """For a submission: its request_id was used before with a different payload."""


class PermissionDeniedError(RpcError):
    pass


class AbortedError(RpcError):
    """A change with a stale ``etag``: the feedback changed since; read it again."""


class UnauthenticatedError(RpcError):
    """No valid token (after one refresh, when a token provider is configured)."""


class ResourceExhaustedError(RpcError):
    """Rate-limited or over quota; ``retry_delay`` is the server's advice, if any."""


class UnavailableError(RpcError):
    """The service or one of its dependencies is down for now."""


class DeadlineExceededError(RpcError):
    pass


_BY_CODE: dict[grpc.StatusCode, type[RpcError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExistsError,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDeniedError,
    grpc.StatusCode.ABORTED: AbortedError,
    grpc.StatusCode.UNAUTHENTICATED: UnauthenticatedError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
}


class ExportIncompleteError(FeedbackMeshError):
    """An export ended without its row-count trailer, or with a count that does not match
    the rows received: the data is cut and must not be used."""


class BatchSubmitError(FeedbackMeshError):
    """``batch_submit`` stopped at a failed RPC. ``results`` holds the items stored before
    it (in input order); ``pending`` the requests not known to be stored, each with its
    request_id, so ``batch_submit(error.pending)`` resumes without duplicates."""

    def __init__(
        self,
        cause: RpcError,
        results: Sequence[BatchItemResult],
        pending: Sequence[feedback_pb2.SubmitFeedbackRequest],
    ) -> None:
        super().__init__(f"batch submission stopped after {len(results)} items: {cause}")
        self.cause = cause
        self.results = list(results)
        self.pending = list(pending)


class BatcherError(FeedbackMeshError):
    """Base of the background batcher's errors."""


class BatcherFullError(BatcherError):
    """``submit_nowait`` found the batcher at its bound; the item was not taken."""


class BatcherClosedError(BatcherError):
    """The batcher is closed; the item was not taken."""


class BatcherFlushError(BatcherError):
    """Some items since the last flush were not stored: ``report.rejected`` (invalid or
    conflicting, with the server's verdict) and ``report.failed`` (never acknowledged:
    the RPC failed; each keeps its request, so re-submitting it is safe)."""

    def __init__(self, report: FlushReport) -> None:
        super().__init__(
            f"{len(report.rejected)} rejected and {len(report.failed)} failed submissions"
        )
        self.report = report

    @property
    def failed(self) -> list[FailedSubmission]:
        return self.report.failed


class _StatusCarrier(Protocol):
    def code(self) -> grpc.StatusCode: ...
    def details(self) -> str | None: ...
    def trailing_metadata(self) -> Iterable[tuple[str, str | bytes]] | None: ...


def decode_details(trailing: Iterable[tuple[str, str | bytes]] | None) -> list[Message]:
    """The ``google.rpc.Status`` details of a call's trailing metadata, unpacked when
    their type is a known ``google.rpc`` one (else left as ``Any``)."""
    if not trailing:
        return []
    for key, value in trailing:
        if key == STATUS_DETAILS_KEY and isinstance(value, bytes):
            try:
                status = status_pb2.Status.FromString(value)
            except DecodeError:
                return []
            return [_unpack(detail) for detail in status.details]
    return []


def _unpack(detail: any_pb2.Any) -> Message:
    cls = _DETAIL_TYPES.get(detail.type_url)
    if cls is None:
        return detail
    message = cls()
    detail.Unpack(message)
    return message


def from_grpc(error: grpc.RpcError, attempts: int = 1) -> RpcError:
    """The client error for a failed gRPC call (sync or asyncio)."""
    call: _StatusCarrier = error  # type: ignore[assignment]
    code = call.code()
    details = decode_details(call.trailing_metadata())
    return _BY_CODE.get(code, RpcError)(code, call.details() or "", details, attempts=attempts)
