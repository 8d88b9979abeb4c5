"""A batch of the maximum size through a real server: single calls from other callers are
answered while it runs, and its work stops when its caller cancels or its deadline passes.
Uses ``minilm``, the slowest analyzer, so that the batch lasts far longer than a single
call on any machine; nothing here asserts on durations (the cost of a maximal call is a
benchmark: ``bench/sentiment_fairness.py``)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import grpc
import pytest
from prometheus_client import REGISTRY

from feedbackmesh.sentiment.v1 import sentiment_pb2, sentiment_pb2_grpc
from mesh_runtime.auth import SCOPE_SENTIMENT, bearer_metadata
from mesh_runtime.server import MeshServer
from mesh_runtime.settings import Settings
from sentiment_svc.service import MAX_BATCH_SIZE

Serve = Callable[..., Awaitable[MeshServer]]
ANALYZER = "minilm"
# Each text fills the model's whole 128-token window, so the batch outlasts the 1 s
# deadline below even where minilm is fastest (AVX-512/VNNI/AMX scored ~580 texts of 24
# tokens in that second).
LARGE = sentiment_pb2.BatchAnalyzeSentimentRequest(
    texts=[
        f"comment {i}: " + "the agent was slow at first but then it helped a lot, thanks. " * 10
        for i in range(MAX_BATCH_SIZE)
    ]
)


def texts_scored() -> float:
    value = REGISTRY.get_sample_value("sentiment_pass_texts_sum", {"analyzer": ANALYZER})
    return value or 0.0


async def wait_for(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not condition():
        assert loop.time() < end, "condition not met in time"
        await asyncio.sleep(0.01)


async def settled_count() -> float:
    """The scored-text count once it has stopped moving for a while."""
    last = texts_scored()
    while True:
        await asyncio.sleep(1.0)
        now = texts_scored()
        if now == last:
            return now
        last = now


@pytest.fixture
async def stub(
    serve: Serve, settings: Settings, token_for: Callable[..., str]
) -> sentiment_pb2_grpc.SentimentServiceAsyncStub:
    server = await serve(
        ["sentiment"], settings=settings.model_copy(update={"sentiment_analyzer": ANALYZER})
    )
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
    stub = sentiment_pb2_grpc.SentimentServiceStub(channel)
    stub.metadata = bearer_metadata(token_for(scopes=[SCOPE_SENTIMENT]))  # type: ignore[attr-defined]
    return stub


async def test_single_calls_are_answered_while_a_maximal_batch_runs(
    stub: sentiment_pb2_grpc.SentimentServiceAsyncStub,
) -> None:
    metadata = stub.metadata  # type: ignore[attr-defined]
    start = texts_scored()
    batch = asyncio.ensure_future(stub.BatchAnalyzeSentiment(LARGE, metadata=metadata, timeout=600))
    await wait_for(lambda: texts_scored() > start)  # the batch is being scored
    for text in ("I love it", "It broke everything", "Fine, thanks"):
        reply = await stub.AnalyzeSentiment(
            sentiment_pb2.AnalyzeSentimentRequest(text=text), metadata=metadata, timeout=60
        )
        assert reply.analyzer == ANALYZER
        assert not batch.done(), "the single call waited for the whole batch"
    batch.cancel()
    with pytest.raises(asyncio.CancelledError):
        await batch


@pytest.mark.parametrize("how", ["cancelled", "deadline"])
async def test_work_stops_when_the_caller_is_gone(
    stub: sentiment_pb2_grpc.SentimentServiceAsyncStub, how: str
) -> None:
    metadata = stub.metadata  # type: ignore[attr-defined]
    start = await settled_count()
    call = stub.BatchAnalyzeSentiment(
        LARGE, metadata=metadata, timeout=600 if how == "cancelled" else 1.0
    )
    await wait_for(lambda: texts_scored() > start)
    if how == "cancelled":
        call.cancel()
    with pytest.raises((asyncio.CancelledError, grpc.aio.AioRpcError)) as raised:
        await call
    if how == "deadline":
        assert isinstance(raised.value, grpc.aio.AioRpcError)
        assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    scored = await settled_count() - start
    assert 0 < scored < MAX_BATCH_SIZE / 2, f"{scored} texts scored for a caller that left"
    # The service is free again.
    reply = await stub.AnalyzeSentiment(
        sentiment_pb2.AnalyzeSentimentRequest(text="works again"), metadata=metadata, timeout=60
    )
    assert reply.analyzer == ANALYZER
