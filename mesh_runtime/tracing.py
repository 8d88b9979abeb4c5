"""Tracing with OpenTelemetry: W3C trace context (``traceparent``) from Envoy through every
gRPC hop and across the outbox/pub-sub hop (stored with the event), and the request id
Envoy assigns (``x-request-id``); both appear in every JSON log line (``mesh_runtime.logs``).

Spans are exported over OTLP only when ``FEEDBACKMESH_OTLP_ENDPOINT`` is set. Without it
no OpenTelemetry span is made at all: a call parses the caller's ``traceparent`` (or draws
a trace id), draws a span id and keeps the ids in one context variable, which is what
log lines and peer calls read (cheaper than the SDK's non-recording spans: the figures
are in bench/README.md, "Tracing cost").
"""

from __future__ import annotations

import contextvars
import logging
import random
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import grpc
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased, TraceIdRatioBased
from opentelemetry.trace import SpanContext, SpanKind, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.trace.status import Status, StatusCode

from mesh_runtime.settings import Settings

logger = logging.getLogger(__name__)

TRACER_NAME = "feedbackmesh"
TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
REQUEST_ID = "x-request-id"
# A batch span links at most this many of its events' traces (OpenTelemetry's default
# per-span link limit is 128).
MAX_LINKS = 128

_PROPAGATOR = TraceContextTextMapPropagator()
_REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "feedbackmesh_request_id", default=None
)
# (trace id, span id, traceparent) of the current call or event, both ids in hex.
Ids = tuple[str, str, str]
_IDS: contextvars.ContextVar[Ids | None] = contextvars.ContextVar(
    "feedbackmesh_trace", default=None
)
_HEX = frozenset("0123456789abcdef")


class _Export:
    """Whether spans are made and exported (set once by ``configure_tracing``)."""

    enabled = False


def parse_traceparent(value: str | None) -> tuple[str, str, str] | None:
    """A W3C ``traceparent`` -> (trace id, parent span id, flags); None if malformed."""
    if not value or len(value) < 55 or value[2] != "-" or value[35] != "-" or value[52] != "-":
        return None
    version, trace_id, span_id, flags = value[:2], value[3:35], value[36:52], value[53:55]
    if version == "ff" or not _HEX.issuperset(trace_id + span_id + flags):
        return None
    if trace_id == "0" * 32 or span_id == "0" * 16:
        return None
    return trace_id, span_id, flags


def _ids(trace_id: str, span_id: str, flags: str) -> Ids:
    return trace_id, span_id, f"00-{trace_id}-{span_id}-{flags}"


def _ids_of(span: trace.Span) -> Ids:
    context = span.get_span_context()
    return _ids(f"{context.trace_id:032x}", f"{context.span_id:016x}", f"{context.trace_flags:02x}")


def configure_tracing(settings: Settings, service_name: str) -> None:
    """Installs the process's tracer provider (once, at the entry point, like logging)."""
    if settings.otlp_endpoint is None:
        sampler: Any = ALWAYS_OFF
    else:
        sampler = ParentBased(TraceIdRatioBased(settings.otlp_sample_ratio))
    provider = TracerProvider(
        resource=Resource.create({"service.name": service_name}), sampler=sampler
    )
    if settings.otlp_endpoint is not None:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(
            endpoint=settings.otlp_endpoint,
            insecure=settings.otlp_endpoint.startswith("http://"),
            timeout=int(settings.otlp_timeout_seconds),
        )
        provider.add_span_processor(
            BatchSpanProcessor(
                exporter, export_timeout_millis=int(settings.otlp_timeout_seconds * 1000)
            )
        )
        logger.info("exporting traces", extra={"otlp_endpoint": settings.otlp_endpoint})
    trace.set_tracer_provider(provider)
    _Export.enabled = settings.otlp_endpoint is not None


def tracer() -> trace.Tracer:
    return trace.get_tracer(TRACER_NAME)


def current_request_id() -> str | None:
    return _REQUEST_ID.get()


def current_traceparent() -> str | None:
    """The current call's trace context as a W3C ``traceparent`` (None outside a trace)."""
    ids = _IDS.get()
    return None if ids is None else ids[2]


def current_ids() -> tuple[str | None, str | None]:
    """(trace id, span id) in hex for log lines; (None, None) outside a trace."""
    ids = _IDS.get()
    return (None, None) if ids is None else (ids[0], ids[1])


def remote_context(traceparent: str) -> SpanContext | None:
    """The span context a stored ``traceparent`` names (None if it is empty or malformed)."""
    parsed = parse_traceparent(traceparent)
    if parsed is None:
        return None
    trace_id, span_id, flags = parsed
    return SpanContext(int(trace_id, 16), int(span_id, 16), True, TraceFlags(int(flags, 16)))


@contextmanager
def continued(traceparent: str) -> Iterator[None]:
    """Runs the block inside the trace a stored ``traceparent`` names (logs included)."""
    parsed = parse_traceparent(traceparent)
    token = _IDS.set(None if parsed is None else _ids(*parsed))
    try:
        yield
    finally:
        _IDS.reset(token)


@contextmanager
def batch_span(name: str, traceparents: Iterable[str]) -> Iterator[None]:
    """A span for work on a batch of events, linked to (up to MAX_LINKS of) their traces:
    the messaging convention for batch processing. No span without export."""
    if not _Export.enabled:
        yield
        return
    span = tracer().start_span(name, kind=SpanKind.CONSUMER)
    if span.is_recording():
        linked = 0
        for traceparent in traceparents:
            span_context = remote_context(traceparent)
            if span_context is not None and linked < MAX_LINKS:
                span.add_link(span_context)
                linked += 1
    token = otel_context.attach(trace.set_span_in_context(span))
    ids_token = _IDS.set(_ids_of(span))
    try:
        yield
    except BaseException as exc:
        span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
        raise
    finally:
        _IDS.reset(ids_token)
        otel_context.detach(token)
        span.end()


class ServerSpan:
    """One server call's trace: continues the caller's trace from its metadata (an exported
    span when export is on, ids only otherwise), and sets the call's request id."""

    __slots__ = ("_context_token", "_ids_token", "_request_token", "_span")

    def __init__(
        self,
        tracer_: trace.Tracer,
        name: str,
        attributes: dict[str, str],
        # grpc.aio's invocation metadata: iterable (key, value) pairs, not a sequence
        metadata: Iterable[tuple[str, str | bytes]] | None,
    ) -> None:
        traceparent = tracestate = request_id = None
        for key, value in metadata or ():
            if isinstance(value, str):
                if key == TRACEPARENT:
                    traceparent = value
                elif key == REQUEST_ID:
                    request_id = value
                elif key == TRACESTATE:
                    tracestate = value
        self._request_token = _REQUEST_ID.set(request_id)
        self._span: trace.Span | None = None
        if _Export.enabled:
            carrier = {TRACEPARENT: traceparent or "", TRACESTATE: tracestate or ""}
            self._span = tracer_.start_span(
                name,
                context=_PROPAGATOR.extract(carrier),
                kind=SpanKind.SERVER,
                attributes=attributes,
            )
            self._context_token = otel_context.attach(trace.set_span_in_context(self._span))
            self._ids_token = _IDS.set(_ids_of(self._span))
            return
        parent = parse_traceparent(traceparent)
        trace_id = parent[0] if parent is not None else f"{random.getrandbits(128):032x}"
        span_id = f"{random.getrandbits(64):016x}"
        # Not exported: the sampled flag goes on unset, so no one waits for these spans.
        self._ids_token = _IDS.set(_ids(trace_id, span_id, "00"))

    def end(self, code_name: str, failed: bool) -> None:
        span = self._span
        if span is not None:
            if span.is_recording():
                span.set_attribute("rpc.grpc.status_code", code_name)
                if failed:
                    span.set_status(Status(StatusCode.ERROR, code_name))
            span.end()
            otel_context.detach(self._context_token)
        _IDS.reset(self._ids_token)
        _REQUEST_ID.reset(self._request_token)


def outgoing_metadata() -> tuple[tuple[str, str], ...]:
    """The current trace context and request id as call metadata for a peer call."""
    traceparent = current_traceparent()
    request_id = _REQUEST_ID.get()
    extra: tuple[tuple[str, str], ...] = ()
    if traceparent is not None:
        extra += ((TRACEPARENT, traceparent),)
    if request_id is not None:
        extra += ((REQUEST_ID, request_id),)
    return extra


def _with_trace(details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
    extra = outgoing_metadata()
    if not extra:
        return details
    metadata = grpc.aio.Metadata(*(details.metadata or ()), *extra)
    return grpc.aio.ClientCallDetails(
        details.method, details.timeout, metadata, details.credentials, details.wait_for_ready
    )


class TraceContextClientInterceptor(
    grpc.aio.UnaryUnaryClientInterceptor, grpc.aio.UnaryStreamClientInterceptor
):
    """Carries the trace context and request id into every call to a peer service."""

    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(_with_trace(details), request)

    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(_with_trace(details), request)
