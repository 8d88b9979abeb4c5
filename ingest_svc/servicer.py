"""IngestService gRPC servicer: proto <-> domain, nothing else."""

from __future__ import annotations

import grpc

from feedbackmesh.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from ingest_svc.events import PoisonEvent, validate_event
from ingest_svc.worker import IngestWorker
from ingest_svc.writer import GaveUp
from mesh_runtime.errors import FieldViolation, InvalidArgument, Unavailable
from mesh_runtime.timestamps import optional_timestamp

MAX_DIRECT_EVENTS = 10_000


class IngestServicer(ingest_pb2_grpc.IngestServiceServicer):
    def __init__(self, worker: IngestWorker) -> None:
        self._worker = worker

    async def GetIngestStatus(
        self,
        request: ingest_pb2.GetIngestStatusRequest,
        context: grpc.aio.ServicerContext[
            ingest_pb2.GetIngestStatusRequest, ingest_pb2.GetIngestStatusResponse
        ],
    ) -> ingest_pb2.GetIngestStatusResponse:
        status = await self._worker.status()
        stats = status.stats
        return ingest_pb2.GetIngestStatusResponse(
            backlog=status.backlog,
            lag_seconds=status.lag_seconds,
            rows_ingested=stats.rows_ingested,
            batches_ingested=stats.batches_ingested,
            rows_in_clickhouse=status.rows_in_clickhouse,
            pending_sentiment=status.pending_sentiment,
            last_error=stats.last_error,
            last_error_time=optional_timestamp(stats.last_error_time),
            last_ingest_time=optional_timestamp(stats.last_ingest_time),
            pubsub_connected=status.pubsub_connected,
        )

    async def IngestEvents(
        self,
        request: ingest_pb2.IngestEventsRequest,
        context: grpc.aio.ServicerContext[
            ingest_pb2.IngestEventsRequest, ingest_pb2.IngestEventsResponse
        ],
    ) -> ingest_pb2.IngestEventsResponse:
        if len(request.events) > MAX_DIRECT_EVENTS:
            raise InvalidArgument.single("events", f"at most {MAX_DIRECT_EVENTS:,} events")
        # Direct callers get their bad events back as errors (nothing is written)
        # instead of having them parked.
        violations = []
        for index, event in enumerate(request.events):
            try:
                validate_event(event)
            except PoisonEvent as exc:
                violations.append(FieldViolation(f"events[{index}]", str(exc)))
        if violations:
            raise InvalidArgument(violations[:100])
        try:
            result = await self._worker.ingest_direct(list(request.events))
        except GaveUp as exc:
            raise Unavailable("ClickHouse is unavailable; retry later") from exc
        return ingest_pb2.IngestEventsResponse(
            inserted_count=result.inserted, duplicate_count=len(request.events) - result.inserted
        )
