"""FeedbackService gRPC servicer: protobuf <-> domain only; the logic is in service.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import grpc
from google.api import httpbody_pb2
from google.protobuf import empty_pb2
from google.rpc import error_details_pb2

from feedback_svc.convert import (
    LABEL_FROM_PROTO,
    TYPE_FROM_PROTO,
    events_response,
    feedback_message,
    feedback_patch,
    raw_submission,
)
from feedback_svc.domain import BatchItemStatus, FeedbackFilter
from feedback_svc.export import EXPORT_FORMATS
from feedback_svc.service import FeedbackService
from feedback_svc.validation import MAX_CHAT_SESSION_ID, TAG_PATTERN
from feedbackmesh.feedback.v1 import feedback_pb2, feedback_pb2_grpc
from mesh_runtime.auth import current_principal
from mesh_runtime.bounds import text_problem
from mesh_runtime.downloads import attachment_filename, attachment_metadata
from mesh_runtime.errors import FieldViolation, InvalidArgument
from mesh_runtime.timestamps import field_datetime, optional_timestamp

DUPLICATE_HEADER = "x-feedbackmesh-duplicate"
# Text filters and their longest useful value (what a submission may store).
_TEXT_FILTERS = {"chat_session_id": MAX_CHAT_SESSION_ID, "user_id": 256}
_BATCH_STATUS: dict[BatchItemStatus, feedback_pb2.BatchItemStatus] = {
    "created": feedback_pb2.BATCH_ITEM_STATUS_CREATED,
    "duplicate": feedback_pb2.BATCH_ITEM_STATUS_DUPLICATE,
    "invalid": feedback_pb2.BATCH_ITEM_STATUS_INVALID,
    "conflict": feedback_pb2.BATCH_ITEM_STATUS_CONFLICT,
}


def _filter(
    request: feedback_pb2.ListFeedbackRequest | feedback_pb2.ExportFeedbackRequest,
) -> FeedbackFilter:
    violations: list[FieldViolation] = []
    kind = None
    if request.feedback_type:
        kind = TYPE_FROM_PROTO.get(request.feedback_type)
        if kind is None:
            violations.append(FieldViolation("feedback_type", "is not a known feedback type"))
    sentiment = None
    if request.sentiment:
        sentiment = LABEL_FROM_PROTO.get(request.sentiment)
        if sentiment is None:
            violations.append(FieldViolation("sentiment", "is not a known sentiment label"))
    for name in ("min_rating", "max_rating"):
        if not 0 <= getattr(request, name) <= 5:
            violations.append(FieldViolation(name, "must be 1..5 (0 = unbounded)"))
    for name in ("execution_id", "agent_id"):
        if getattr(request, name) < 0:
            violations.append(FieldViolation(name, "must be a positive id (0 = any)"))
    for name, limit in _TEXT_FILTERS.items():
        value = getattr(request, name)
        problem = text_problem(value)
        if problem is None and len(value) > limit:
            problem = f"must be at most {limit} characters"
        if problem is not None:
            violations.append(FieldViolation(name, problem))
    if request.tag and TAG_PATTERN.fullmatch(request.tag.lower()) is None:
        violations.append(FieldViolation("tag", "must be 1..64 characters of [a-z0-9_:-]"))
    if violations:
        raise InvalidArgument(violations)
    return FeedbackFilter(
        feedback_type=kind,
        execution_id=request.execution_id or None,
        agent_id=request.agent_id or None,
        chat_session_id=request.chat_session_id or None,
        min_rating=request.min_rating or None,
        max_rating=request.max_rating or None,
        sentiment=sentiment,
        tag=request.tag.lower() or None,
        start_time=field_datetime(request, "start_time"),
        end_time=field_datetime(request, "end_time"),
        user_id=request.user_id or None,
    )


class FeedbackServicer(feedback_pb2_grpc.FeedbackServiceServicer):
    def __init__(self, service: FeedbackService) -> None:
        self._service = service

    async def SubmitFeedback(
        self,
        request: feedback_pb2.SubmitFeedbackRequest,
        context: grpc.aio.ServicerContext[
            feedback_pb2.SubmitFeedbackRequest, feedback_pb2.Feedback
        ],
    ) -> feedback_pb2.Feedback:
        outcome = await self._service.submit(current_principal(), raw_submission(request))
        if outcome.duplicate:
            # The answer is the Feedback itself (transcoding-friendly); a retry says so in
            # a response header.
            await context.send_initial_metadata(((DUPLICATE_HEADER, "true"),))
        return feedback_message(outcome.record)

    async def BatchSubmitFeedback(
        self,
        request: feedback_pb2.BatchSubmitFeedbackRequest,
        context: grpc.aio.ServicerContext[
            feedback_pb2.BatchSubmitFeedbackRequest, feedback_pb2.BatchSubmitFeedbackResponse
        ],
    ) -> feedback_pb2.BatchSubmitFeedbackResponse:
        raws = [raw_submission(item) for item in request.requests]
        outcomes = await self._service.batch_submit(current_principal(), raws)
        response = feedback_pb2.BatchSubmitFeedbackResponse()
        counts = dict.fromkeys(_BATCH_STATUS, 0)
        for outcome in outcomes:
            counts[outcome.status] += 1
            result = response.results.add(index=outcome.index, status=_BATCH_STATUS[outcome.status])
            if outcome.record is not None:
                result.feedback.CopyFrom(feedback_message(outcome.record))
            result.field_violations.extend(
                error_details_pb2.BadRequest.FieldViolation(
                    field=v.field, description=v.description
                )
                for v in outcome.violations
            )
        response.created_count = counts["created"]
        response.duplicate_count = counts["duplicate"]
        response.invalid_count = counts["invalid"]
        response.conflict_count = counts["conflict"]
        return response

    async def GetFeedback(
        self,
        request: feedback_pb2.GetFeedbackRequest,
        context: grpc.aio.ServicerContext[feedback_pb2.GetFeedbackRequest, feedback_pb2.Feedback],
    ) -> feedback_pb2.Feedback:
        record = await self._service.get(current_principal(), request.id)
        return feedback_message(record)

    async def UpdateFeedback(
        self,
        request: feedback_pb2.UpdateFeedbackRequest,
        context: grpc.aio.ServicerContext[
            feedback_pb2.UpdateFeedbackRequest, feedback_pb2.Feedback
        ],
    ) -> feedback_pb2.Feedback:
        record = await self._service.update(
            current_principal(), request.feedback.id, feedback_patch(request), request.feedback.etag
        )
        return feedback_message(record)

    async def DeleteFeedback(
        self,
        request: feedback_pb2.DeleteFeedbackRequest,
        context: grpc.aio.ServicerContext[feedback_pb2.DeleteFeedbackRequest, empty_pb2.Empty],
    ) -> empty_pb2.Empty:
        await self._service.delete(current_principal(), request.id, request.etag)
        return empty_pb2.Empty()

    async def ListFeedback(
        self,
        request: feedback_pb2.ListFeedbackRequest,
        context: grpc.aio.ServicerContext[
            feedback_pb2.ListFeedbackRequest, feedback_pb2.ListFeedbackResponse
        ],
    ) -> feedback_pb2.ListFeedbackResponse:
        page = await self._service.list_page(
            current_principal(), _filter(request), request.page_size, request.page_token
        )
        return feedback_pb2.ListFeedbackResponse(
            feedback=[feedback_message(r) for r in page.records],
            next_page_token=page.next_page_token,
        )

    async def ExportFeedback(
        self,
        request: feedback_pb2.ExportFeedbackRequest,
        context: grpc.aio.ServicerContext[
            feedback_pb2.ExportFeedbackRequest, httpbody_pb2.HttpBody
        ],
    ) -> AsyncIterator[httpbody_pb2.HttpBody]:
        principal = current_principal()
        chunks = aiter(self._service.export(principal, _filter(request), request.format))
        # The first chunk comes after validation: a refused export carries no file header.
        first = await anext(chunks, None)
        extension = request.format.strip().lower() or "csv"
        content_type = EXPORT_FORMATS[extension]
        name = attachment_filename("feedback", principal.tenant_id, extension, datetime.now(UTC))
        await context.send_initial_metadata(attachment_metadata(name))
        if first is not None:
            yield httpbody_pb2.HttpBody(content_type=content_type, data=first)
        async for chunk in chunks:
            yield httpbody_pb2.HttpBody(content_type=content_type, data=chunk)

    async def PullOutboxEvents(
        self,
        request: feedback_pb2.PullOutboxEventsRequest,
        context: grpc.aio.ServicerContext[
            feedback_pb2.PullOutboxEventsRequest, feedback_pb2.PullOutboxEventsResponse
        ],
    ) -> feedback_pb2.PullOutboxEventsResponse:
        payloads = await self._service.pull_events(request.after_sequence, request.max_events)
        return events_response(payloads)

    async def AckOutboxEvents(
        self,
        request: feedback_pb2.AckOutboxEventsRequest,
        context: grpc.aio.ServicerContext[
            feedback_pb2.AckOutboxEventsRequest, feedback_pb2.AckOutboxEventsResponse
        ],
    ) -> feedback_pb2.AckOutboxEventsResponse:
        count = await self._service.acknowledge(list(request.sequences))
        return feedback_pb2.AckOutboxEventsResponse(acknowledged_count=count)

    async def GetOutboxStatus(
        self,
        request: feedback_pb2.GetOutboxStatusRequest,
        context: grpc.aio.ServicerContext[
            feedback_pb2.GetOutboxStatusRequest, feedback_pb2.GetOutboxStatusResponse
        ],
    ) -> feedback_pb2.GetOutboxStatusResponse:
        status = await self._service.outbox_status()
        return feedback_pb2.GetOutboxStatusResponse(
            backlog=status.backlog,
            pending_sentiment=status.pending_sentiment,
            released_total=status.released_total,
            acknowledged_total=status.acknowledged_total,
            oldest_unacknowledged_created_at=optional_timestamp(
                status.oldest_unacknowledged_created_at
            ),
        )
