"""Helpers of the feedback tests: a fake SentimentService, a feedback server with stubs."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import grpc

from feedbackmesh.feedback.v1 import feedback_pb2, feedback_pb2_grpc
from feedbackmesh.sentiment.v1 import sentiment_pb2, sentiment_pb2_grpc
from mesh_runtime.auth import DEFAULT_USER_SCOPES, SCOPE_INTERNAL, SCOPE_SENTIMENT
from mesh_runtime.server import MeshServer
from mesh_runtime.settings import Settings
from mesh_runtime.targets import ServiceTarget

SENTIMENT_SERVICE = "feedbackmesh.sentiment.v1.SentimentService"


def label_for(text: str) -> tuple[sentiment_pb2.SentimentLabel, float]:
    """The fake model: deterministic, so tests know the expected label of a comment."""
    lowered = text.lower()
    if "bad" in lowered or "terrible" in lowered:
        return sentiment_pb2.SENTIMENT_LABEL_NEGATIVE, -0.75
    if "good" in lowered or "great" in lowered:
        return sentiment_pb2.SENTIMENT_LABEL_POSITIVE, 0.75
    return sentiment_pb2.SENTIMENT_LABEL_NEUTRAL, 0.0


class FakeSentiment(sentiment_pb2_grpc.SentimentServiceServicer):
    def __init__(self) -> None:
        self.calls = 0
        self.texts = 0

    async def AnalyzeSentiment(self, request: Any, context: Any) -> Any:
        self.calls += 1
        self.texts += 1
        label, score = label_for(request.text)
        return sentiment_pb2.AnalyzeSentimentResponse(label=label, score=score, confidence=1)

    async def BatchAnalyzeSentiment(self, request: Any, context: Any) -> Any:
        self.calls += 1
        self.texts += len(request.texts)
        results = []
        for text in request.texts:
            label, score = label_for(text)
            results.append(sentiment_pb2.SentimentResult(label=label, score=score, confidence=1))
        return sentiment_pb2.BatchAnalyzeSentimentResponse(results=results, analyzer="fake")


def fake_sentiment_target(servicer: FakeSentiment) -> ServiceTarget:
    return ServiceTarget(
        name="sentiment",
        service_names=[SENTIMENT_SERVICE],
        method_scopes={
            f"/{SENTIMENT_SERVICE}/{m}": SCOPE_SENTIMENT
            for m in ("AnalyzeSentiment", "BatchAnalyzeSentiment", "GetModelInfo")
        },
        register=lambda server: sentiment_pb2_grpc.add_SentimentServiceServicer_to_server(
            servicer, server
        ),
    )


async def start_fake_sentiment(
    settings: Settings, port: int = 0
) -> tuple[MeshServer, FakeSentiment]:
    servicer = FakeSentiment()
    server = MeshServer(
        settings, [fake_sentiment_target(servicer)], port=port, metrics_port=None, host="127.0.0.1"
    )
    await server.start()
    return server, servicer


@dataclass
class Subscriber:
    """Collects the events published on the session's channel."""

    messages: list[dict[str, Any]] = field(default_factory=list)

    def for_tenant(self, tenant: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("tenant_id") == tenant]


@dataclass
class Submitted:
    feedback: feedback_pb2.Feedback
    duplicate: bool


@dataclass
class FeedbackEnv:
    settings: Settings
    server: MeshServer
    channel: grpc.aio.Channel
    stub: feedback_pb2_grpc.FeedbackServiceAsyncStub
    token_for: Callable[..., str]
    sentiment: FakeSentiment | None
    tenant: str = field(default_factory=lambda: f"t-{uuid.uuid4().hex[:10]}")

    def md(self, tenant: str | None = None, user: str = "user-1", scopes: Any = None) -> Any:
        token = self.token_for(
            tenant or self.tenant, user, scopes if scopes is not None else DEFAULT_USER_SCOPES
        )
        return (("authorization", f"Bearer {token}"),)

    def internal_md(self) -> Any:
        token = self.token_for("_mesh", "svc", (SCOPE_INTERNAL,))
        return (("authorization", f"Bearer {token}"),)

    async def submit(self, tenant: str | None = None, **fields: Any) -> Submitted:
        fields.setdefault("request_id", uuid.uuid4().hex)
        call = self.stub.SubmitFeedback(
            feedback_pb2.SubmitFeedbackRequest(**fields), metadata=self.md(tenant)
        )
        feedback = await call
        headers = dict(await call.initial_metadata())
        return Submitted(feedback, headers.get("x-feedbackmesh-duplicate") == "true")


async def start_feedback(
    serve: Any, settings: Settings, token_for: Callable[..., str], sentiment: FakeSentiment | None
) -> FeedbackEnv:
    server = await serve(["feedback"], settings=settings)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
    stub = feedback_pb2_grpc.FeedbackServiceStub(channel)
    return FeedbackEnv(settings, server, channel, stub, token_for, sentiment)


async def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def pull_all(env: FeedbackEnv, tenant: str | None = None) -> list[Any]:
    """Every released, unacknowledged event (paging with the after_sequence cursor)."""
    events: list[Any] = []
    after = 0
    while True:
        response = await env.stub.PullOutboxEvents(
            feedback_pb2.PullOutboxEventsRequest(max_events=10_000, after_sequence=after),
            metadata=env.internal_md(),
        )
        if not response.events:
            return [e for e in events if tenant is None or e.tenant_id == tenant]
        events += response.events
        after = response.events[-1].sequence
