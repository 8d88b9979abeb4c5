"""The server bootstrap through a real grpc.aio server on port 0: health, drain,
reflection, metrics, auth and error mapping."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import grpc
import httpx
import jwt
import pytest
import pytest_asyncio
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status

from feedbackmesh.sentiment.v1 import sentiment_pb2, sentiment_pb2_grpc
from mesh_runtime.auth import SCOPE_SENTIMENT, bearer_metadata
from mesh_runtime.errors import FieldViolation, InvalidArgument
from mesh_runtime.server import MeshServer
from mesh_runtime.settings import Settings
from mesh_runtime.targets import ServiceTarget

SERVICE = "feedbackmesh.sentiment.v1.SentimentService"
SECRET_TEXT = "password=hunter2 at db.internal"


class ProbeServicer(sentiment_pb2_grpc.SentimentServiceServicer):
    """Behaves according to the request text, to exercise the runtime."""

    async def AnalyzeSentiment(
        self,
        request: sentiment_pb2.AnalyzeSentimentRequest,
        context: grpc.aio.ServicerContext[
            sentiment_pb2.AnalyzeSentimentRequest, sentiment_pb2.AnalyzeSentimentResponse
        ],
    ) -> sentiment_pb2.AnalyzeSentimentResponse:
        if request.text == "boom":
            raise RuntimeError(SECRET_TEXT)
        if request.text == "invalid":
            raise InvalidArgument([FieldViolation("text", "is not acceptable")])
        if request.text.startswith("sleep:"):
            await asyncio.sleep(float(request.text.split(":", 1)[1]))
        return sentiment_pb2.AnalyzeSentimentResponse(
            label=sentiment_pb2.SENTIMENT_LABEL_POSITIVE, score=0.5, analyzer="probe"
        )


def probe_target() -> ServiceTarget:
    servicer = ProbeServicer()
    return ServiceTarget(
        name="probe",
        service_names=[SERVICE],
        method_scopes={f"/{SERVICE}/AnalyzeSentiment": SCOPE_SENTIMENT},
        register=lambda server: sentiment_pb2_grpc.add_SentimentServiceServicer_to_server(
            servicer, server
        ),
    )


@pytest_asyncio.fixture(loop_scope="session")
async def probe(serve: Callable[..., Awaitable[MeshServer]]) -> AsyncIterator[MeshServer]:
    yield await serve([probe_target()])


async def analyze(
    port: int, text: str, token: str | None
) -> sentiment_pb2.AnalyzeSentimentResponse:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = sentiment_pb2_grpc.SentimentServiceStub(channel)
        metadata = bearer_metadata(token) if token is not None else None
        response: sentiment_pb2.AnalyzeSentimentResponse = await stub.AnalyzeSentiment(
            sentiment_pb2.AnalyzeSentimentRequest(text=text), metadata=metadata, timeout=10
        )
    return response


async def health_status(channel: grpc.aio.Channel, service: str = "") -> int:
    stub = health_pb2_grpc.HealthStub(channel)
    reply = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
    return int(reply.status)


async def test_health_is_serving_and_open_without_token(probe: MeshServer) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{probe.port}") as channel:
        assert await health_status(channel) == health_pb2.HealthCheckResponse.SERVING
        assert await health_status(channel, SERVICE) == health_pb2.HealthCheckResponse.SERVING


async def test_reflection_lists_the_services(probe: MeshServer) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{probe.port}") as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        names: set[str] = set()
        async for reply in stub.ServerReflectionInfo(iter([request])):
            names |= {s.name for s in reply.list_services_response.service}
    assert {SERVICE, "grpc.health.v1.Health"} <= names


async def test_valid_token_is_served(probe: MeshServer, token_for: Callable[..., str]) -> None:
    reply = await analyze(probe.port, "hello", token_for(scopes=[SCOPE_SENTIMENT]))
    assert reply.analyzer == "probe"


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing", grpc.StatusCode.UNAUTHENTICATED),
        ("expired", grpc.StatusCode.UNAUTHENTICATED),
        ("other_key", grpc.StatusCode.UNAUTHENTICATED),
        ("garbage", grpc.StatusCode.UNAUTHENTICATED),
        ("no_scope", grpc.StatusCode.PERMISSION_DENIED),
    ],
)
async def test_bad_tokens_are_refused(
    probe: MeshServer,
    settings: Settings,
    token_for: Callable[..., str],
    case: str,
    expected: grpc.StatusCode,
) -> None:
    tokens = {
        "missing": None,
        "expired": token_for(scopes=[SCOPE_SENTIMENT], ttl_seconds=-60),
        "other_key": jwt.encode(
            {
                "iss": settings.jwt_issuer,
                "aud": settings.jwt_audience,
                "sub": "u",
                "tenant_id": "t",
                "scope": SCOPE_SENTIMENT,
                "exp": int(time.time()) + 600,
            },
            "another-secret-of-sufficient-length-0123456789",
            algorithm="HS256",
        ),
        "garbage": "not-a-jwt",
        "no_scope": token_for(scopes=["feedback:read"]),
    }
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await analyze(probe.port, "hello", tokens[case])
    assert raised.value.code() == expected


async def test_internal_error_is_generic(probe: MeshServer, token_for: Callable[..., str]) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await analyze(probe.port, "boom", token_for(scopes=[SCOPE_SENTIMENT]))
    assert raised.value.code() == grpc.StatusCode.INTERNAL
    assert raised.value.details() == "internal error"
    assert "hunter2" not in str(raised.value.debug_error_string())


async def test_invalid_argument_carries_field_violations(
    probe: MeshServer, token_for: Callable[..., str]
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await analyze(probe.port, "invalid", token_for(scopes=[SCOPE_SENTIMENT]))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(raised.value)
    assert status is not None
    bad_request = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad_request)
    assert [(v.field, v.description) for v in bad_request.field_violations] == [
        ("text", "is not acceptable")
    ]


def _handled(metrics_text: str, method: str, code: str) -> float:
    for line in metrics_text.splitlines():
        if (
            line.startswith("grpc_server_handled_total{")
            and f'grpc_method="{method}"' in line
            and f'grpc_code="{code}"' in line
        ):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_metrics_count_calls_by_method_and_code(
    probe: MeshServer, token_for: Callable[..., str]
) -> None:
    url = f"http://127.0.0.1:{probe.metrics_port}/metrics"
    async with httpx.AsyncClient() as client:
        before = (await client.get(url)).text
        await analyze(probe.port, "hello", token_for(scopes=[SCOPE_SENTIMENT]))
        with pytest.raises(grpc.aio.AioRpcError):
            await analyze(probe.port, "hello", None)
        after = (await client.get(url)).text
    assert (
        _handled(after, "AnalyzeSentiment", "OK") == _handled(before, "AnalyzeSentiment", "OK") + 1
    )
    assert (
        _handled(after, "AnalyzeSentiment", "UNAUTHENTICATED")
        == _handled(before, "AnalyzeSentiment", "UNAUTHENTICATED") + 1
    )
    assert "grpc_server_handling_seconds_bucket" in after


async def test_drain_turns_health_not_serving_and_finishes_in_flight_calls(
    settings: Settings, token_for: Callable[..., str]
) -> None:
    server = MeshServer(settings, [probe_target()], port=0, metrics_port=None, host="127.0.0.1")
    await server.start()
    token = token_for(scopes=[SCOPE_SENTIMENT])
    in_flight = asyncio.create_task(analyze(server.port, "sleep:1.0", token))
    await asyncio.sleep(0.2)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        assert await health_status(channel) == health_pb2.HealthCheckResponse.SERVING
        stopping = asyncio.create_task(server.stop(grace=5.0, delay=0.5))
        await asyncio.sleep(0.1)
        assert await health_status(channel) == health_pb2.HealthCheckResponse.NOT_SERVING
    reply = await in_flight
    assert reply.analyzer == "probe"
    await stopping
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await analyze(server.port, "hello", token)
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
