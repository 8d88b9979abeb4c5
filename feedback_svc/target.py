"""The ``feedback`` target: FeedbackService plus its background releaser and re-scorer."""

from __future__ import annotations

import logging

import grpc

from feedback_svc.convert import event_payload
from feedback_svc.outbox import OutboxStore
from feedback_svc.repository import FeedbackRepository
from feedback_svc.sentiment_client import SentimentClient
from feedback_svc.service import FeedbackService
from feedback_svc.servicer import FeedbackServicer
from feedback_svc.workers import Publisher, Workers
from feedbackmesh.feedback.v1 import feedback_pb2, feedback_pb2_grpc
from mesh_runtime.auth import SCOPE_FEEDBACK_READ, SCOPE_FEEDBACK_WRITE, SCOPE_INTERNAL
from mesh_runtime.metrics import TenantLabels
from mesh_runtime.page_tokens import PageTokens
from mesh_runtime.resources import Resources
from mesh_runtime.settings import Settings
from mesh_runtime.targets import ServiceTarget

logger = logging.getLogger(__name__)

SERVICE_NAME = feedback_pb2.DESCRIPTOR.services_by_name["FeedbackService"].full_name
_SCOPES = {
    "SubmitFeedback": SCOPE_FEEDBACK_WRITE,
    "BatchSubmitFeedback": SCOPE_FEEDBACK_WRITE,
    "UpdateFeedback": SCOPE_FEEDBACK_WRITE,
    "DeleteFeedback": SCOPE_FEEDBACK_WRITE,
    "GetFeedback": SCOPE_FEEDBACK_READ,
    "ListFeedback": SCOPE_FEEDBACK_READ,
    "ExportFeedback": SCOPE_FEEDBACK_READ,
    "PullOutboxEvents": SCOPE_INTERNAL,
    "AckOutboxEvents": SCOPE_INTERNAL,
    "GetOutboxStatus": SCOPE_INTERNAL,
}
METHOD_SCOPES = {f"/{SERVICE_NAME}/{method}": scope for method, scope in _SCOPES.items()}


async def create_target(settings: Settings, resources: Resources) -> ServiceTarget:
    pool = await resources.postgres_pool()
    repository = FeedbackRepository(pool)
    outbox = OutboxStore(pool, event_payload)
    sentiment = SentimentClient(
        resources.channel(settings.peer("sentiment")),
        resources.internal_metadata(),
        settings.sentiment_timeout_seconds,
    )
    publisher = Publisher(resources.redis(), settings.redis_channel)
    tenant_label = TenantLabels(settings)
    workers = Workers(outbox, publisher, sentiment, tenant_label)
    service = FeedbackService(
        repository,
        outbox,
        sentiment,
        workers.wake_release,
        workers.wake_rescore,
        PageTokens(settings.page_token_key()),
        tenant_label,
    )

    def register(server: grpc.aio.Server) -> None:
        feedback_pb2_grpc.add_FeedbackServiceServicer_to_server(FeedbackServicer(service), server)

    async def on_start() -> None:
        await workers.start()

    async def on_stop() -> None:
        await workers.stop()

    return ServiceTarget(
        name="feedback",
        service_names=[SERVICE_NAME],
        method_scopes=METHOD_SCOPES,
        register=register,
        on_start=on_start,
        on_stop=on_stop,
        extra={"service": service, "workers": workers},
    )
