"""The feedback service's sentiment client against a real gRPC server that answers late
and then fails: the caller gets its timeout, and no task is left behind whose exception
nobody reads ("Task exception was never retrieved" flooded the log under load)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import pytest

from feedback_svc.sentiment_client import SentimentClient, SentimentUnavailable
from feedbackmesh.sentiment.v1 import sentiment_pb2, sentiment_pb2_grpc
from mesh_runtime.auth import SCOPE_SENTIMENT, bearer_metadata
from mesh_runtime.server import MeshServer
from mesh_runtime.targets import ServiceTarget

Serve = Callable[..., Awaitable[MeshServer]]
SERVICE = sentiment_pb2.DESCRIPTOR.services_by_name["SentimentService"].full_name


class LateFailingSentiment(sentiment_pb2_grpc.SentimentServiceServicer):
    def __init__(self) -> None:
        self.calls = 0

    async def BatchAnalyzeSentiment(
        self,
        request: sentiment_pb2.BatchAnalyzeSentimentRequest,
        context: grpc.aio.ServicerContext[
            sentiment_pb2.BatchAnalyzeSentimentRequest, sentiment_pb2.BatchAnalyzeSentimentResponse
        ],
    ) -> sentiment_pb2.BatchAnalyzeSentimentResponse:
        self.calls += 1
        await asyncio.sleep(0.5)
        await context.abort(grpc.StatusCode.UNAVAILABLE, "model not ready")
        raise AssertionError("abort returns never")


async def test_a_caller_that_times_out_leaves_no_unretrieved_exception(
    serve: Serve, token_for: Callable[..., str]
) -> None:
    servicer = LateFailingSentiment()
    target = ServiceTarget(
        name="sentiment",
        service_names=[SERVICE],
        method_scopes={f"/{SERVICE}/BatchAnalyzeSentiment": SCOPE_SENTIMENT},
        register=lambda server: sentiment_pb2_grpc.add_SentimentServiceServicer_to_server(
            servicer, server
        ),
    )
    server = await serve([target])
    loop = asyncio.get_running_loop()
    unhandled: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _, context: unhandled.append(context))
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            client = SentimentClient(
                channel, bearer_metadata(token_for(scopes=[SCOPE_SENTIMENT])), timeout=0.05
            )
            with pytest.raises(TimeoutError):
                await client.score_one("the caller stops waiting first")
            # The call itself then fails; the client notices (breaker open) ...
            deadline = loop.time() + 30
            while client.available():
                assert loop.time() < deadline, "the late failure never reached the client"
                await asyncio.sleep(0.05)
            with pytest.raises(SentimentUnavailable):
                await client.score_one("skipped while the breaker is open")
        await asyncio.sleep(0.1)
        gc.collect()  # an unretrieved task exception is reported when the task is freed
        await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(previous)
    assert servicer.calls >= 1
    assert [c.get("message") for c in unhandled] == []
