"""Domain exceptions. Services raise these; the server interceptor maps them once to
gRPC status codes with ``google.rpc`` details. Their messages are written for
clients: never put exception text from a library into them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import grpc


@dataclass(frozen=True, slots=True)
class FieldViolation:
    field: str
    description: str


class DomainError(Exception):
    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(DomainError):
    code = grpc.StatusCode.INVALID_ARGUMENT

    def __init__(self, violations: Iterable[FieldViolation], message: str = "") -> None:
        self.violations = list(violations)
        if not message:
            fields = ", ".join(v.field for v in self.violations)
            message = f"invalid argument: {fields}" if fields else "invalid argument"
        super().__init__(message)

    @classmethod
    def single(cls, field: str, description: str) -> InvalidArgument:
        return cls([FieldViolation(field, description)])


class NotFound(DomainError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(DomainError):
    code = grpc.StatusCode.ALREADY_EXISTS


class FailedPrecondition(DomainError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class Aborted(DomainError):
    """A concurrency conflict (a stale etag): re-read and retry."""

    code = grpc.StatusCode.ABORTED


class Unauthenticated(DomainError):
    code = grpc.StatusCode.UNAUTHENTICATED


class PermissionDenied(DomainError):
    code = grpc.StatusCode.PERMISSION_DENIED


class ResourceExhausted(DomainError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Unavailable(DomainError):
    """A dependency (database, ClickHouse, a peer service) is down: the client may retry."""

    code = grpc.StatusCode.UNAVAILABLE


class DeadlineExceeded(DomainError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED
