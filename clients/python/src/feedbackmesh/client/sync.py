# Generated from aio.py by `python scripts/generate.py`: edit aio.py, not this file.
"""The client's calls, written once in aio.py: ``AsyncFeedbackMeshClient`` (asyncio) and
``FeedbackMeshClient`` (blocking, in sync.py, which ``python scripts/generate.py`` derives
from aio.py by dropping ``async``/``await`` and renaming each Async twin to its Sync one).

A blocking client is safe to share between threads; an asyncio client belongs to one event
loop. Either holds one channel per distinct address: close it (``with`` / ``close()``).
"""

from __future__ import annotations

import builtins
import functools
from collections.abc import Generator, Iterable, Iterator, Sequence
from types import TracebackType
from typing import TypeVar, Unpack

import grpc

from feedbackmesh.analytics.v1 import analytics_pb2, analytics_pb2_grpc
from feedbackmesh.client.arguments import (
    AnalyticsFilters,
    AnalyticsView,
    ExportFormat,
    FeedbackFilters,
    RankedAnalyticsFilters,
    SubmitFields,
    UpdateFields,
    fields_of,
    submission,
    update_request,
)
from feedbackmesh.client.batcher import Batcher, Ledger
from feedbackmesh.client.batching import MAX_BATCH_ITEMS, batches, carry_request_ids, item_results
from feedbackmesh.client.channels import Service, SyncChannel, SyncInterceptor, SyncUnary
from feedbackmesh.client.core import ClientCore, ClientOptions, sleep
from feedbackmesh.client.errors import BatchSubmitError, RpcError, from_grpc
from feedbackmesh.client.export import Destination, TrailerCheck, output
from feedbackmesh.client.results import BatchItemResult, ExportResult
from feedbackmesh.feedback.v1 import feedback_pb2, feedback_pb2_grpc
from feedbackmesh.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from feedbackmesh.sentiment.v1 import sentiment_pb2, sentiment_pb2_grpc

Req = TypeVar("Req")
Resp = TypeVar("Resp")


class FeedbackMeshClient:
    """A client of ``target`` (one address for every service, e.g. the gateway's
    ``host:8080``); ``ClientOptions`` lists the keyword options, ``interceptors`` takes
    gRPC client interceptors (``grpc.aio`` ones for the asyncio client)."""

    def __init__(
        self,
        target: str | None = None,
        *,
        interceptors: Sequence[SyncInterceptor] = (),
        **options: Unpack[ClientOptions],
    ) -> None:
        self._core = ClientCore(target, options)
        self._interceptors = tuple(interceptors)
        self._channels: dict[str, SyncChannel] = {}

    # --- feedback --------------------------------------------------------------------

    def submit(
        self, *, timeout: float | None = None, **fields: Unpack[SubmitFields]
    ) -> feedback_pb2.Feedback:
        """Submits one feedback; returns it as stored (the original on a repeat). Without
        ``request_id`` one is created here, and every retry sends that same one."""
        request = submission(fields)
        rpc = self._feedback.SubmitFeedback
        return self._call(rpc, request, timeout, idempotent=bool(request.request_id))

    def batch_submit(
        self,
        items: Iterable[SubmitFields | feedback_pb2.SubmitFeedbackRequest],
        *,
        timeout: float | None = None,
    ) -> builtins.list[BatchItemResult]:
        """Submits any number of feedback in RPC-sized batches; one result per item, in
        input order. An RPC that fails for good raises ``BatchSubmitError``."""
        requests = [submission(item) for item in items]
        results: builtins.list[BatchItemResult] = []
        for start, sent in batches(requests):
            batch = feedback_pb2.BatchSubmitFeedbackRequest(requests=sent)
            rpc = self._feedback.BatchSubmitFeedback
            try:
                response = self._call(rpc, batch, timeout, idempotent=carry_request_ids(sent))
            except RpcError as error:
                raise BatchSubmitError(error, results, requests[start:]) from error
            results += item_results(start, sent, response)
        return results

    def batcher(
        self, *, max_batch: int = MAX_BATCH_ITEMS, max_pending: int = 10_000, linger: float = 0.2
    ) -> Batcher:
        """A background batcher (see ``feedbackmesh.client.batcher``); leaving its context
        manager, or ``close()``, flushes and stops it."""
        return Batcher(self.batch_submit, Ledger(max_batch, max_pending, linger))

    def get(self, feedback_id: int, *, timeout: float | None = None) -> feedback_pb2.Feedback:
        request = feedback_pb2.GetFeedbackRequest(id=feedback_id)
        return self._call(self._feedback.GetFeedback, request, timeout)

    def update(
        self,
        feedback_id: int,
        *,
        etag: str = "",
        timeout: float | None = None,
        **changes: Unpack[UpdateFields],
    ) -> feedback_pb2.Feedback:
        """Changes the given fields of a feedback (its author, or the ``feedback:admin``
        scope); returns it as stored, with its new ``revision`` and ``etag``. With ``etag``
        a feedback changed since is ``AbortedError`` and stays as it is. Not retried: a
        repeat after a lost answer would be a second change."""
        request = update_request(feedback_id, etag, changes)
        return self._call(self._feedback.UpdateFeedback, request, timeout, idempotent=False)

    def delete(self, feedback_id: int, *, etag: str = "", timeout: float | None = None) -> None:
        """Retracts a feedback; a second delete is ``NotFoundError`` (so not retried)."""
        request = feedback_pb2.DeleteFeedbackRequest(id=feedback_id, etag=etag)
        self._call(self._feedback.DeleteFeedback, request, timeout, idempotent=False)

    def list(
        self,
        *,
        page_size: int = 500,
        timeout: float | None = None,
        **filters: Unpack[FeedbackFilters],
    ) -> Iterator[feedback_pb2.Feedback]:
        """Every matching feedback, newest first, fetching page after page as iterated."""
        request = feedback_pb2.ListFeedbackRequest(page_size=page_size, **fields_of(filters))
        while True:
            page = self._call(self._feedback.ListFeedback, request, timeout)
            yield from page.feedback
            if not page.next_page_token:
                return
            request.page_token = page.next_page_token

    def export(
        self,
        destination: Destination,
        *,
        format: ExportFormat = "csv",
        timeout: float | None = None,
        **filters: Unpack[FeedbackFilters],
    ) -> ExportResult:
        """Streams an export into a file object or a path; raises
        ``ExportIncompleteError`` (a path then is not written) unless the row-count
        trailer matches the rows received."""
        check = TrailerCheck(format)
        with output(destination) as out:
            for chunk in self._export_stream(check, format, timeout, filters):
                out.write(chunk)
            return check.finish()

    def export_chunks(
        self,
        *,
        format: ExportFormat = "csv",
        timeout: float | None = None,
        **filters: Unpack[FeedbackFilters],
    ) -> Iterator[bytes]:
        """The export's bytes as they arrive; after the last chunk, raises
        ``ExportIncompleteError`` if the trailer does not match."""
        check = TrailerCheck(format)
        yield from self._export_stream(check, format, timeout, filters)
        check.finish()

    # --- analytics, sentiment, ingest ---------------------------------------------------

    def ratings_analytics(
        self, *, timeout: float | None = None, **filters: Unpack[AnalyticsFilters]
    ) -> analytics_pb2.GetRatingsAnalyticsResponse:
        request = analytics_pb2.GetRatingsAnalyticsRequest(**fields_of(filters))
        return self._call(self._analytics.GetRatingsAnalytics, request, timeout)

    def sentiment_analytics(
        self, *, timeout: float | None = None, **filters: Unpack[RankedAnalyticsFilters]
    ) -> analytics_pb2.GetSentimentAnalyticsResponse:
        request = analytics_pb2.GetSentimentAnalyticsRequest(**fields_of(filters))
        return self._call(self._analytics.GetSentimentAnalytics, request, timeout)

    def usage_trends(
        self, *, timeout: float | None = None, **filters: Unpack[RankedAnalyticsFilters]
    ) -> analytics_pb2.GetUsageTrendsResponse:
        request = analytics_pb2.GetUsageTrendsRequest(**fields_of(filters))
        return self._call(self._analytics.GetUsageTrends, request, timeout)

    def export_analytics(
        self,
        view: AnalyticsView,
        *,
        timeout: float | None = None,
        **filters: Unpack[AnalyticsFilters],
    ) -> bytes:
        """One analytics view as CSV."""
        request = analytics_pb2.ExportAnalyticsRequest(view=view, **fields_of(filters))
        body = self._call(self._analytics.ExportAnalytics, request, timeout)
        data: bytes = body.data
        return data

    def watch_analytics(
        self, *, timeout: float | None = None
    ) -> Generator[analytics_pb2.WatchAnalyticsResponse]:
        """The caller's tenant's data version: at once, whenever it moves, and again as a
        keep-alive when idle. A view's answer with another ``data_version`` may be stale.

        Runs until closed (``close()`` / ``aclose()``; ``contextlib.closing`` /
        ``aclosing``), which cancels the call. A stream that ends or breaks after events is
        opened again, and UNAVAILABLE / RESOURCE_EXHAUSTED are retried as for any read, the
        attempts counted afresh after every event. ``timeout``: a deadline per stream
        (default: none)."""
        request = analytics_pb2.WatchAnalyticsRequest()
        attempts = self._core.attempts()
        while True:
            metadata = attempts.metadata()
            call = self._analytics.WatchAnalytics(request, timeout=timeout, metadata=metadata)
            received = False
            try:
                for event in call:
                    received, attempts = True, self._core.attempts()
                    yield event
                # Ended by the server (draining). The wait grows with the attempts since
                # the last event, so one that keeps ending streams is not called in a loop.
                delay = self._core.retry.backoff(attempts.made + 1)
            except grpc.RpcError as raw:
                # A proxy ends a live stream at its route timeout with an HTTP/2 reset
                # (Envoy's RST_STREAM), which gRPC reports as INTERNAL: reopen it once.
                reset = received and from_grpc(raw).code == grpc.StatusCode.INTERNAL
                delay = 0.0 if reset else attempts.next_delay(raw, metadata)
            finally:
                call.cancel()
            sleep(delay)

    def analyze_sentiment(
        self, text: str, *, timeout: float | None = None
    ) -> sentiment_pb2.AnalyzeSentimentResponse:
        request = sentiment_pb2.AnalyzeSentimentRequest(text=text)
        return self._call(self._sentiment.AnalyzeSentiment, request, timeout)

    def ingest_status(self, *, timeout: float | None = None) -> ingest_pb2.GetIngestStatusResponse:
        request = ingest_pb2.GetIngestStatusRequest()
        return self._call(self._ingest.GetIngestStatus, request, timeout)

    # --- lifecycle ---------------------------------------------------------------------

    def close(self) -> None:
        channels = builtins.list(self._channels.values())
        self._channels.clear()
        for channel in channels:
            channel.close()

    def __enter__(self) -> FeedbackMeshClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- plumbing ----------------------------------------------------------------------

    def _channel(self, service: Service) -> SyncChannel:
        address = self._core.address(service)
        if address not in self._channels:
            settings = self._core.channel_settings
            self._channels[address] = settings.sync_channel(address, self._interceptors)
        return self._channels[address]

    @functools.cached_property
    def _feedback(self) -> feedback_pb2_grpc.FeedbackServiceStub:
        return feedback_pb2_grpc.FeedbackServiceStub(self._channel("feedback"))

    @functools.cached_property
    def _analytics(self) -> analytics_pb2_grpc.AnalyticsServiceStub:
        return analytics_pb2_grpc.AnalyticsServiceStub(self._channel("analytics"))

    @functools.cached_property
    def _sentiment(self) -> sentiment_pb2_grpc.SentimentServiceStub:
        return sentiment_pb2_grpc.SentimentServiceStub(self._channel("sentiment"))

    @functools.cached_property
    def _ingest(self) -> ingest_pb2_grpc.IngestServiceStub:
        return ingest_pb2_grpc.IngestServiceStub(self._channel("ingest"))

    def _call(
        self,
        rpc: SyncUnary[Req, Resp],
        request: Req,
        timeout: float | None,
        *,
        idempotent: bool = True,
    ) -> Resp:
        attempts = self._core.attempts(idempotent=idempotent)
        while True:
            metadata = attempts.metadata()
            try:
                return rpc(request, timeout=timeout or self._core.timeout, metadata=metadata)
            except grpc.RpcError as raw:
                delay = attempts.next_delay(raw, metadata)
            sleep(delay)

    def _export_stream(
        self,
        check: TrailerCheck,
        format: ExportFormat,
        timeout: float | None,
        filters: FeedbackFilters,
    ) -> Iterator[bytes]:
        request = feedback_pb2.ExportFeedbackRequest(format=format, **fields_of(filters))
        attempts = self._core.attempts()
        while True:
            metadata = attempts.metadata()
            deadline = timeout or self._core.export_timeout
            call = self._feedback.ExportFeedback(request, timeout=deadline, metadata=metadata)
            try:
                for body in call:
                    check.feed(body.data)
                    yield body.data
                return
            except grpc.RpcError as raw:
                # Once bytes went out, a repeat would send them twice: only retry before.
                delay = attempts.next_delay(raw, metadata, again=not check.byte_count)
            finally:
                call.cancel()
            sleep(delay)
