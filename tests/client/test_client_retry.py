"""Retries, on a real gRPC server (the mesh's MeshServer with its auth interceptor) whose
SentimentService answers from a script: RESOURCE_EXHAUSTED with a google.rpc.RetryInfo
delay, UNAVAILABLE, INTERNAL, then success. (The killed-FeedbackService case, with a
real process, is in tests/e2e/test_client_e2e.py.)"""

from __future__ import annotations

import itertools
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
import pytest_asyncio
from client_helpers import Flavour, abort, scripted_server

from feedbackmesh.client import (
    ResourceExhaustedError,
    RetryPolicy,
    RpcError,
    UnavailableError,
)
from feedbackmesh.sentiment.v1 import sentiment_pb2, sentiment_pb2_grpc
from mesh_runtime.auth import SCOPE_SENTIMENT
from mesh_runtime.settings import Settings

SERVICE = "feedbackmesh.sentiment.v1.SentimentService"
FAST = RetryPolicy(max_attempts=4, initial_backoff=0.01, max_backoff=0.05)


@dataclass
class Scripted(sentiment_pb2_grpc.SentimentServiceServicer):
    """Fails the next calls as scripted: (code, RetryInfo delay in seconds or None)."""

    script: list[tuple[grpc.StatusCode, float | None]] = field(default_factory=list)
    calls: list[float] = field(default_factory=list)

    async def AnalyzeSentiment(
        self, request: Any, context: grpc.aio.ServicerContext[Any, Any]
    ) -> Any:
        self.calls.append(time.monotonic())
        if self.script:
            await abort(context, *self.script.pop(0))
        return sentiment_pb2.AnalyzeSentimentResponse(
            label=sentiment_pb2.SENTIMENT_LABEL_POSITIVE, score=1.0, analyzer="scripted"
        )


@dataclass
class Server:
    address: str
    servicer: Scripted
    token: str


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def server(settings: Settings, token_for: Callable[..., str]) -> AsyncIterator[Server]:
    servicer = Scripted()
    method = f"/{SERVICE}/AnalyzeSentiment"

    def register(server: grpc.aio.Server) -> None:
        sentiment_pb2_grpc.add_SentimentServiceServicer_to_server(servicer, server)

    async with scripted_server(settings, "sentiment", method, SCOPE_SENTIMENT, register) as address:
        yield Server(address, servicer, token_for("retry-tenant", "u"))


def start(server: Server, script: list[tuple[grpc.StatusCode, float | None]]) -> None:
    server.servicer.calls.clear()
    server.servicer.script[:] = script


def options(server: Server, **overrides: Any) -> dict[str, Any]:
    return {
        "target": server.address,
        "tls": False,
        "token": server.token,
        "retry": FAST,
        **overrides,
    }


async def test_resource_exhausted_waits_at_least_the_servers_retry_delay(
    server: Server, flavour: Flavour
) -> None:
    start(server, [(grpc.StatusCode.RESOURCE_EXHAUSTED, 0.4)] * 2)
    async with flavour.client(**options(server)) as client:
        scored = await flavour.run(client.analyze_sentiment, "fine")
    assert scored.analyzer == "scripted"
    calls = server.servicer.calls
    assert len(calls) == 3
    # A lower bound only: the backoff alone would be under 0.05 s.
    assert all(later - earlier >= 0.4 for earlier, later in itertools.pairwise(calls))


async def test_a_retry_delay_beyond_the_policys_bound_is_raised(
    server: Server, flavour: Flavour
) -> None:
    start(server, [(grpc.StatusCode.RESOURCE_EXHAUSTED, 120.0)])
    async with flavour.client(**options(server)) as client:
        with pytest.raises(ResourceExhaustedError) as exhausted:
            await flavour.run(client.analyze_sentiment, "fine")
    assert exhausted.value.retry_delay == 120.0 and exhausted.value.attempts == 1
    assert len(server.servicer.calls) == 1


async def test_unavailable_is_retried_until_the_attempts_run_out(
    server: Server, flavour: Flavour
) -> None:
    start(server, [(grpc.StatusCode.UNAVAILABLE, None)] * 3)
    async with flavour.client(**options(server)) as client:
        assert (await flavour.run(client.analyze_sentiment, "fine")).analyzer == "scripted"
        assert len(server.servicer.calls) == 4
        start(server, [(grpc.StatusCode.UNAVAILABLE, None)] * 10)
        with pytest.raises(UnavailableError) as unavailable:
            await flavour.run(client.analyze_sentiment, "fine")
    assert unavailable.value.attempts == FAST.max_attempts == len(server.servicer.calls)


async def test_non_idempotent_calls_and_other_codes_are_not_retried(
    server: Server, flavour: Flavour
) -> None:
    request = sentiment_pb2.AnalyzeSentimentRequest(text="fine")
    async with flavour.client(**options(server)) as client:
        start(server, [(grpc.StatusCode.UNAVAILABLE, None)])
        # The client's one call path, as a call without a request_id would take it.
        rpc = client._sentiment.AnalyzeSentiment
        with pytest.raises(UnavailableError):
            await flavour.run(client._call, rpc, request, None, idempotent=False)
        assert len(server.servicer.calls) == 1
        start(server, [(grpc.StatusCode.INTERNAL, None)])
        with pytest.raises(RpcError) as internal:
            await flavour.run(client.analyze_sentiment, "fine")
    assert internal.value.code == grpc.StatusCode.INTERNAL and not internal.value.retryable
    assert len(server.servicer.calls) == 1


async def test_an_unreachable_address_is_unavailable_after_the_retries(flavour: Flavour) -> None:
    from mesh_runtime.net import free_port

    address = f"127.0.0.1:{free_port()}"
    async with flavour.client(target=address, tls=False, retry=FAST) as client:
        with pytest.raises(UnavailableError) as unavailable:
            await flavour.run(client.analyze_sentiment, "fine")
    assert unavailable.value.attempts == FAST.max_attempts
