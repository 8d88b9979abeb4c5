"""The FeedbackService outbox, seen from the ingest side (internal RPCs)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from feedbackmesh.feedback.v1 import feedback_pb2, feedback_pb2_grpc
from mesh_runtime.resources import Resources

# Pulls and acks are cheap; a hung FeedbackService must not stall the worker forever.
_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class OutboxStatus:
    backlog: int
    pending_sentiment: int
    oldest_unacknowledged_created_at: datetime | None


class OutboxClient:
    def __init__(self, resources: Resources, address: str) -> None:
        self._resources = resources
        self._address = address

    def _stub(self) -> feedback_pb2_grpc.FeedbackServiceStub:
        return feedback_pb2_grpc.FeedbackServiceStub(self._resources.channel(self._address))

    async def pull(
        self, max_events: int, after_sequence: int = 0
    ) -> list[feedback_pb2.FeedbackEvent]:
        reply = await self._stub().PullOutboxEvents(
            feedback_pb2.PullOutboxEventsRequest(
                max_events=max_events, after_sequence=after_sequence
            ),
            metadata=self._resources.internal_metadata(),
            timeout=_TIMEOUT_SECONDS,
        )
        return list(reply.events)

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
