"""SentimentService through a real gRPC server on port 0."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import grpc
import pytest
from google.protobuf.message import Message
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from feedbackmesh.sentiment.v1 import sentiment_pb2, sentiment_pb2_grpc
from mesh_runtime.auth import SCOPE_SENTIMENT, bearer_metadata
from mesh_runtime.server import MeshServer
from mesh_runtime.settings import Settings

POSITIVE = "I love this agent, it was fast, helpful and absolutely wonderful!"
NEGATIVE = "Terrible answer. It was wrong, slow and completely useless, I hate it."
NEUTRAL = "The agent ran on Tuesday."

Serve = Callable[..., Awaitable[MeshServer]]


Reply = TypeVar("Reply", bound=Message)


async def _stub_call(
    server: MeshServer, token: str, method: str, request: object, reply: type[Reply]
) -> Reply:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        stub = sentiment_pb2_grpc.SentimentServiceStub(channel)
        result = await getattr(stub, method)(request, metadata=bearer_metadata(token), timeout=30)
        assert isinstance(result, reply)
        return result


@pytest.fixture(scope="module", params=["default", "vader", "textblob"])
def analyzer_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_clear_examples_get_the_right_labels_and_batch_equals_singles(
    serve: Serve, settings: Settings, token_for: Callable[..., str], analyzer_name: str
) -> None:
    server = await serve(
        ["sentiment"], settings=settings.model_copy(update={"sentiment_analyzer": analyzer_name})
    )
    token = token_for(scopes=[SCOPE_SENTIMENT])
    texts = [POSITIVE, NEGATIVE, NEUTRAL]
    # One after another, so each is scored alone.
    singles = [
        await _stub_call(
            server,
            token,
            "AnalyzeSentiment",
            sentiment_pb2.AnalyzeSentimentRequest(text=t),
            sentiment_pb2.AnalyzeSentimentResponse,
        )
        for t in texts
    ]
    assert [s.label for s in singles] == [
        sentiment_pb2.SENTIMENT_LABEL_POSITIVE,
        sentiment_pb2.SENTIMENT_LABEL_NEGATIVE,
        sentiment_pb2.SENTIMENT_LABEL_NEUTRAL,
    ]
    for single in singles:
        assert -1.0 <= single.score <= 1.0
        assert 0.0 <= single.confidence <= 1.0
    batch = await _stub_call(
        server,
        token,
        "BatchAnalyzeSentiment",
        sentiment_pb2.BatchAnalyzeSentimentRequest(texts=texts),
        sentiment_pb2.BatchAnalyzeSentimentResponse,
    )
    assert [r.label for r in batch.results] == [s.label for s in singles]
    # The default model's scores are rounded from float32, whose last bits may differ
    # between batch shapes; lexicon analyzers are exact.
    tolerance = 2e-6 if analyzer_name == "default" else 1e-12
    for from_batch, single in zip(batch.results, singles, strict=True):
        assert abs(from_batch.score - single.score) <= tolerance
    info = await _stub_call(
        server,
        token,
        "GetModelInfo",
        sentiment_pb2.GetModelInfoRequest(),
        sentiment_pb2.GetModelInfoResponse,
    )
    assert info.analyzer == singles[0].analyzer
    if analyzer_name != "default":
        assert info.analyzer == analyzer_name
    assert info.max_text_chars == 10_000
    assert info.max_batch_size == 1_000


@pytest.mark.parametrize(
    ("method", "request_message", "fields"),
    [
        ("AnalyzeSentiment", sentiment_pb2.AnalyzeSentimentRequest(text=""), ["text"]),
        ("AnalyzeSentiment", sentiment_pb2.AnalyzeSentimentRequest(text=" \n\t "), ["text"]),
        ("AnalyzeSentiment", sentiment_pb2.AnalyzeSentimentRequest(text="a" * 10_001), ["text"]),
        ("BatchAnalyzeSentiment", sentiment_pb2.BatchAnalyzeSentimentRequest(), ["texts"]),
        (
            "BatchAnalyzeSentiment",
            sentiment_pb2.BatchAnalyzeSentimentRequest(texts=["fine", " ", "ok", ""]),
            ["texts[1]", "texts[3]"],
        ),
        (
            "BatchAnalyzeSentiment",
            sentiment_pb2.BatchAnalyzeSentimentRequest(texts=["x"] * 1_001),
            ["texts"],
        ),
    ],
)
async def test_bad_input_is_invalid_argument_naming_the_field(
    serve: Serve,
    settings: Settings,
    token_for: Callable[..., str],
    method: str,
    request_message: object,
    fields: list[str],
) -> None:
    server = await serve(
        ["sentiment"], settings=settings.model_copy(update={"sentiment_analyzer": "vader"})
    )
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        token = token_for(scopes=[SCOPE_SENTIMENT])
        await _stub_call(server, token, method, request_message, Message)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(raised.value)
    assert status is not None
    bad_request = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad_request)
    assert [v.field for v in bad_request.field_violations] == fields


async def test_text_of_exactly_10000_characters_is_accepted(
    serve: Serve, settings: Settings, token_for: Callable[..., str]
) -> None:
    server = await serve(
        ["sentiment"], settings=settings.model_copy(update={"sentiment_analyzer": "vader"})
    )
    reply = await _stub_call(
        server,
        token_for(scopes=[SCOPE_SENTIMENT]),
        "AnalyzeSentiment",
        sentiment_pb2.AnalyzeSentimentRequest(text="good " * 2_000),
        sentiment_pb2.AnalyzeSentimentResponse,
    )
    assert reply.label == sentiment_pb2.SENTIMENT_LABEL_POSITIVE
