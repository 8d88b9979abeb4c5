"""The one server interceptor of the mesh: per call it records metrics, verifies the
caller's JWT and scope, and maps domain exceptions to gRPC status with details.

One wrapper (not three stacked ones) keeps the per-call overhead low.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, cast

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from mesh_runtime import metrics, tracing
from mesh_runtime.auth import TokenVerifier, reset_current_principal, set_current_principal
from mesh_runtime.errors import DomainError, InvalidArgument, Unauthenticated
from mesh_runtime.wire import Undecodable, guarded_deserializer

logger = logging.getLogger(__name__)

# Health checks and reflection answer without a token.
OPEN_METHOD_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")
GENERIC_INTERNAL_MESSAGE = "internal error"


def status_for(error: DomainError) -> grpc.Status:
    status = status_pb2.Status(code=error.code.value[0], message=error.message)
    if isinstance(error, InvalidArgument) and error.violations:
        bad_request = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field=v.field, description=v.description
                )
                for v in error.violations
            ]
        )
        detail = any_pb2.Any()
        detail.Pack(bad_request)
        status.details.append(detail)
    # grpc_status ships no types (its result is Any to mypy).
    converted: grpc.Status = rpc_status.to_status(status)
    return converted


class MeshServerInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, verifier: TokenVerifier, method_scopes: Mapping[str, str]) -> None:
        self._verifier = verifier
        self._method_scopes = dict(method_scopes)
        # The wrapped handler per method, built once (not on every call), with the handler
        # it wraps: the server hands out the same handler object for a method each time.
        self._wrapped: dict[
            str, tuple[grpc.RpcMethodHandler[Any, Any], grpc.RpcMethodHandler[Any, Any]]
        ] = {}

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(handler_call_details)
        method: str = handler_call_details.method
        if handler is None or method.startswith(OPEN_METHOD_PREFIXES):
            return handler
        cached = self._wrapped.get(method)
        if cached is None or cached[0] is not handler:
            cached = self._wrapped[method] = (handler, self._wrap(method, handler))
        return cached[1]

    def _wrap(
        self, method: str, handler: grpc.RpcMethodHandler[Any, Any]
    ) -> grpc.RpcMethodHandler[Any, Any]:
        # A method no target declared is internal-only: deny by default.
        scope = self._method_scopes.get(method, "mesh:internal")
        deserializer = guarded_deserializer(handler.request_deserializer)
        if handler.unary_unary is not None:
            call = _Call(self._verifier, method, scope, metrics.UNARY)
            return grpc.unary_unary_rpc_method_handler(
                call.wrap_unary(handler.unary_unary),
                request_deserializer=deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            call = _Call(self._verifier, method, scope, metrics.SERVER_STREAM)
            return grpc.unary_stream_rpc_method_handler(
                # grpc's stubs type handlers as sync; the aio server's stream handlers
                # are async generators.
                call.wrap_stream(cast(Callable[..., AsyncIterator[Any]], handler.unary_stream)),
                request_deserializer=deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler  # client-streaming RPCs: none in the v1 APIs


class _Call:
    def __init__(self, verifier: TokenVerifier, method: str, scope: str, kind: str) -> None:
        self._verifier = verifier
        self._scope = scope
        self._labels = (kind, *metrics.split_method(method))
        self._full_method = method
        # Labelled children resolved once: ``labels()`` takes a lock and a dict look-up.
        self.started = metrics.GRPC_STARTED.labels(*self._labels)
        self._latency = metrics.GRPC_LATENCY.labels(*self._labels)
        self._handled: dict[str, Any] = {}
        self.tracer = tracing.tracer()
        self.span_name = method.lstrip("/")
        self.span_attributes = {
            "rpc.system": "grpc",
            "rpc.service": self._labels[1],
            "rpc.method": self._labels[2],
        }

    def _authenticate(self, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        token = ""
        for key, value in context.invocation_metadata() or ():
            if key == "authorization" and isinstance(value, str):
                scheme, _, token = value.partition(" ")
                if scheme.lower() != "bearer":
                    token = ""
                break
        if not token:
            raise Unauthenticated("missing bearer token")
        principal = self._verifier.verify(token.strip())
        principal.require(self._scope)
        set_current_principal(principal)

    def _admit(self, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        """Authenticates the caller, then refuses a request that did not decode."""
        self._authenticate(context)
        if isinstance(request, Undecodable):
            raise InvalidArgument.single(request.field, Undecodable.DESCRIPTION)

    def _record(
        self, context: grpc.aio.ServicerContext[Any, Any], code: Any, started: float
    ) -> str:
        code_name = code.name if isinstance(code, grpc.StatusCode) else _code_name(context)
        handled = self._handled.get(code_name)
        if handled is None:
            handled = self._handled[code_name] = metrics.GRPC_HANDLED.labels(
                *self._labels, code_name
            )
        handled.inc()
        seconds = time.perf_counter() - started
        self._latency.observe(seconds)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "rpc",
                extra={"grpc_method": self._full_method, "grpc_code": code_name,
                       "duration_ms": round(seconds * 1000, 3)},
            )  # fmt: skip
        return code_name

    def wrap_unary(self, behavior: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def unary(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            async with _CallScope(self, context):
                self._admit(request, context)
                return await behavior(request, context)

        return unary

    def wrap_stream(
        self, behavior: Callable[..., AsyncIterator[Any]]
    ) -> Callable[..., AsyncIterator[Any]]:
        async def stream(
            request: Any, context: grpc.aio.ServicerContext[Any, Any]
        ) -> AsyncIterator[Any]:
            async with _CallScope(self, context):
                self._admit(request, context)
                async for response in behavior(request, context):
                    yield response

        return stream


class _CallScope:
    """One call's bookkeeping, shared by unary and streaming RPCs: clears the caller
    on entry, and on exit maps the outcome to a status and records the metrics."""

    __slots__ = ("_call", "_context", "_span", "_started", "_token")

    def __init__(self, call: _Call, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        self._call = call
        self._context = context

    async def __aenter__(self) -> None:
        self._started = time.perf_counter()
        self._call.started.inc()
        self._token = set_current_principal(None)
        call = self._call
        self._span = tracing.ServerSpan(
            call.tracer, call.span_name, call.span_attributes, self._context.invocation_metadata()
        )

    async def __aexit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        code: Any = grpc.StatusCode.OK
        try:
            if isinstance(exc, grpc.aio.AbortError):
                code = None  # the servicer aborted: read the code from the context
            elif isinstance(exc, asyncio.CancelledError | GeneratorExit):
                code = grpc.StatusCode.CANCELLED
            elif isinstance(exc, Exception):
                code = exc.code if isinstance(exc, DomainError) else grpc.StatusCode.INTERNAL
                await self._abort(exc)
        finally:
            reset_current_principal(self._token)
            code_name = self._call._record(self._context, code, self._started)
            self._span.end(code_name, failed=code_name in metrics.SERVER_ERROR_CODES)

    async def _abort(self, exc: Exception) -> None:
        """Ends the call for ``exc`` (``context.abort`` raises AbortError)."""
        if isinstance(exc, DomainError):
            status = status_for(exc)
            await self._context.abort(status.code, status.details, status.trailing_metadata)
        logger.exception("unhandled error in %s", self._call._full_method, exc_info=exc)
        await self._context.abort(grpc.StatusCode.INTERNAL, GENERIC_INTERNAL_MESSAGE)


def _code_name(context: grpc.aio.ServicerContext[Any, Any]) -> str:
    code = context.code()
    for status in grpc.StatusCode:
        if code in (status, status.value[0]):
            return str(status.name)
    return str(grpc.StatusCode.UNKNOWN.name)
