"""The FeedbackService outbox, seen from the ingest side (internal RPCs)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from feedbackmesh.feedback.v1 import feedback_pb2, feedback_pb2_grpc
from mesh_runtime.resources import Resources

# Pulls and acks are cheap; a hung FeedbackService must not stall the worker forever.
_TIMEOUT_SECONDS = 30.0
# PullOutboxEvents returns at most this many events a call (feedback_svc.service.MAX_PULL).
PAGE_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class OutboxStatus:
    backlog: int
    pending_sentiment: int
    oldest_unacknowledged_created_at: datetime | None


class OutboxClient:
    def __init__(self, resources: Resources, address: str) -> None:
        self._resources = resources
        self._address = address

    def _stub(self) -> feedback_pb2_grpc.FeedbackServiceAsyncStub:
        return feedback_pb2_grpc.FeedbackServiceStub(self._resources.channel(self._address))

    async def pull(
        self, max_events: int, after_sequence: int = 0
    ) -> list[feedback_pb2.FeedbackEvent]:
        """Up to ``max_events`` events after ``after_sequence``, in sequence order, in as
        many pages as the FeedbackService's page limit asks for."""
        events: list[feedback_pb2.FeedbackEvent] = []
        while len(events) < max_events:
            want = min(max_events - len(events), PAGE_LIMIT)
            reply = await self._stub().PullOutboxEvents(
                feedback_pb2.PullOutboxEventsRequest(
                    max_events=want, after_sequence=after_sequence
                ),
                metadata=self._resources.internal_metadata(),
                timeout=_TIMEOUT_SECONDS,
            )
            events.extend(reply.events)
            if len(reply.events) < want:
                break
            after_sequence = reply.events[-1].sequence
        return events

    async def ack(self, sequences: Sequence[int]) -> int:
        if not sequences:
            return 0
        reply = await self._stub().AckOutboxEvents(
            feedback_pb2.AckOutboxEventsRequest(sequences=sorted(set(sequences))),
            metadata=self._resources.internal_metadata(),
            timeout=_TIMEOUT_SECONDS,
        )
        return int(reply.acknowledged_count)

    async def status(self) -> OutboxStatus:
        reply = await self._stub().GetOutboxStatus(
            feedback_pb2.GetOutboxStatusRequest(),
            metadata=self._resources.internal_metadata(),
            timeout=5.0,
        )
        oldest = (
            reply.oldest_unacknowledged_created_at.ToDatetime(tzinfo=UTC)
            if reply.HasField("oldest_unacknowledged_created_at")
            else None
        )
        return OutboxStatus(int(reply.backlog), int(reply.pending_sentiment), oldest)
