"""SentimentService gRPC servicer: proto <-> domain only."""

from __future__ import annotations

import asyncio

import grpc

from feedbackmesh.sentiment.v1 import sentiment_pb2, sentiment_pb2_grpc
from sentiment_svc.analyzers import SentimentResult
from sentiment_svc.service import MAX_BATCH_SIZE, MAX_TEXT_CHARS, SentimentService

_LABELS = {
    "positive": sentiment_pb2.SENTIMENT_LABEL_POSITIVE,
    "neutral": sentiment_pb2.SENTIMENT_LABEL_NEUTRAL,
    "negative": sentiment_pb2.SENTIMENT_LABEL_NEGATIVE,
}


def _result_pb(result: SentimentResult) -> sentiment_pb2.SentimentResult:
    return sentiment_pb2.SentimentResult(
        label=_LABELS[result.label], score=result.score, confidence=result.confidence
    )


class SentimentServicer(sentiment_pb2_grpc.SentimentServiceServicer):
    def __init__(self, service: SentimentService, description: str) -> None:
        self._service = service
        self._description = description

    async def AnalyzeSentiment(
        self,
        request: sentiment_pb2.AnalyzeSentimentRequest,
        context: grpc.aio.ServicerContext[
            sentiment_pb2.AnalyzeSentimentRequest, sentiment_pb2.AnalyzeSentimentResponse
        ],
    ) -> sentiment_pb2.AnalyzeSentimentResponse:
        result = await self._service.analyze(request.text)
        return sentiment_pb2.AnalyzeSentimentResponse(
            label=_LABELS[result.label],
            score=result.score,
            confidence=result.confidence,
            analyzer=self._service.analyzer_name,
            analyzer_version=self._service.analyzer_version,
        )

    async def BatchAnalyzeSentiment(
        self,
        request: sentiment_pb2.BatchAnalyzeSentimentRequest,
        context: grpc.aio.ServicerContext[
            sentiment_pb2.BatchAnalyzeSentimentRequest, sentiment_pb2.BatchAnalyzeSentimentResponse
        ],
    ) -> sentiment_pb2.BatchAnalyzeSentimentResponse:
        remaining = context.time_remaining()
        deadline = None if remaining is None else asyncio.get_running_loop().time() + remaining
        results = await self._service.analyze_batch(list(request.texts), deadline)
        return sentiment_pb2.BatchAnalyzeSentimentResponse(
            results=[_result_pb(r) for r in results],
            analyzer=self._service.analyzer_name,
            analyzer_version=self._service.analyzer_version,
        )

    async def GetModelInfo(
        self,
        request: sentiment_pb2.GetModelInfoRequest,
        context: grpc.aio.ServicerContext[
            sentiment_pb2.GetModelInfoRequest, sentiment_pb2.GetModelInfoResponse
        ],
    ) -> sentiment_pb2.GetModelInfoResponse:
        return sentiment_pb2.GetModelInfoResponse(
            analyzer=self._service.analyzer_name,
            analyzer_version=self._service.analyzer_version,
            description=self._description,
            max_text_chars=MAX_TEXT_CHARS,
            max_batch_size=MAX_BATCH_SIZE,
            available_analyzers=list(self._service.available_analyzers),
        )
