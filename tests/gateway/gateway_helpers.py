"""Helpers for the gateway tests: tokens, free ports, fake services, Envoy readiness."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import jwt
from google.api import httpbody_pb2
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from feedbackmesh.feedback.v1 import feedback_pb2, feedback_pb2_grpc
from feedbackmesh.sentiment.v1 import sentiment_pb2, sentiment_pb2_grpc
from gateway.clusters import Upstream
from mesh_app import registry
from mesh_runtime.settings import DEV_JWT_SECRET

SENTIMENT_SERVICE = "feedbackmesh.sentiment.v1.SentimentService"
FEEDBACK_SERVICE = "feedbackmesh.feedback.v1.FeedbackService"
INGEST_SERVICE = registry.spec("ingest").proto_service
ANALYTICS_SERVICE = registry.spec("analytics").proto_service
EXPORT_CHUNKS = (b"id,rating\n", b"1,5\n", b"# export complete: 1 rows\n")
SCOPES = "feedback:write feedback:read sentiment:analyze analytics:read ingest:read"


def mint_token(
    *,
    secret: str = DEV_JWT_SECRET,
    tenant: str = "tenant-a",
    user: str = "user-1",
    expires_in: int = 600,
    issuer: str = "feedbackmesh",
    audience: str = "feedbackmesh",
) -> str:
    now = int(time.time())
    claims = {
        "iss": issuer,
        "aud": audience,
        "sub": user,
        "tenant_id": tenant,
        "scope": SCOPES,
        "iat": now,
        "exp": now + expires_in,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


@dataclass
class SeenCall:
    metadata: dict[str, str]
    text: str


@dataclass
class FakeSentiment(sentiment_pb2_grpc.SentimentServiceServicer):
    """Scores every text as positive with score 0 (a zero value the gateway must print)."""

    calls: list[SeenCall] = field(default_factory=list)
    model_info_calls: int = 0

    async def AnalyzeSentiment(
        self, request: sentiment_pb2.AnalyzeSentimentRequest, context: Any
    ) -> sentiment_pb2.AnalyzeSentimentResponse:
        metadata = {k: v for k, v in context.invocation_metadata() if isinstance(v, str)}
        self.calls.append(SeenCall(metadata, request.text))
        if not request.text.strip():
            bad = error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(
                        field="text", description="must not be empty"
                    )
                ]
            )
            detail = any_pb2.Any()
            detail.Pack(bad)
            status = status_pb2.Status(
                code=code_pb2.INVALID_ARGUMENT, message="invalid request", details=[detail]
            )
            await context.abort_with_status(rpc_status.to_status(status))
        return sentiment_pb2.AnalyzeSentimentResponse(
            label=sentiment_pb2.SENTIMENT_LABEL_POSITIVE, score=0.0, analyzer="fake"
        )

    async def GetModelInfo(
        self, request: sentiment_pb2.GetModelInfoRequest, context: Any
    ) -> sentiment_pb2.GetModelInfoResponse:
        """UNAVAILABLE on every other call: a read the gateway must retry."""
        self.model_info_calls += 1
        if self.model_info_calls % 2 == 1:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "warming up")
        return sentiment_pb2.GetModelInfoResponse(analyzer="fake", max_text_chars=10_000)


@dataclass
class FakeFeedback(feedback_pb2_grpc.FeedbackServiceServicer):
    """The export (a server-streamed google.api.HttpBody the gateway must pass through) and a
    submission that is always UNAVAILABLE (a write the gateway must not retry)."""

    submit_calls: int = 0

    async def SubmitFeedback(
        self, request: feedback_pb2.SubmitFeedbackRequest, context: Any
    ) -> feedback_pb2.Feedback:
        self.submit_calls += 1
        await context.abort(grpc.StatusCode.UNAVAILABLE, "database down")
        raise AssertionError("abort returned")

    async def ExportFeedback(
        self, request: feedback_pb2.ExportFeedbackRequest, context: Any
    ) -> AsyncIterator[httpbody_pb2.HttpBody]:
        for chunk in EXPORT_CHUNKS:
            yield httpbody_pb2.HttpBody(content_type="text/csv; charset=utf-8", data=chunk)


@dataclass
class GrpcServer:
    port: int
    servicer: FakeSentiment
    feedback: FakeFeedback


@dataclass
class Gateway:
    url: str
    admin_url: str
    log_path: Path


def cluster_healthy(admin_url: str, cluster: str) -> bool:
    with urllib.request.urlopen(f"{admin_url}/clusters", timeout=1) as response:
        text = response.read().decode()
    return any(
        line.startswith(f"{cluster}::") and line.endswith("::health_flags::healthy")
        for line in text.splitlines()
    )


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def mesh_upstreams(**addresses: str) -> list[Upstream]:
    """Every service of the registry at its default address, except those given."""
    return registry.upstreams(registry.default_peers() | addresses)
