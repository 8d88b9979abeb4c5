"""The SentimentService client: batch calls with a deadline, and a coalescer for the unary
path so that concurrent submissions share one BatchAnalyzeSentiment call."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Sequence

import grpc

from feedback_svc.domain import SentimentLabel, SentimentScore
from feedbackmesh.sentiment.v1 import sentiment_pb2, sentiment_pb2_grpc
from mesh_runtime.coalesce import Coalescer

logger = logging.getLogger(__name__)

MAX_BATCH = 1000  # SentimentService's batch limit
# Under load (a call ended within BUSY_SECONDS) the coalescer waits COALESCE_SECONDS before
# the next call so that concurrent submissions share it: a call costs both services far more
# than one more text in it. An idle caller waits for no timer.
COALESCE_SECONDS = 0.004
BUSY_SECONDS = 0.02
# The configured deadline covers a call of up to this many texts; larger batches get
# proportionally more, or a slow model would never finish a 500-text batch in time.
TEXTS_PER_DEADLINE = 50
_LABELS: dict[int, SentimentLabel] = {
    sentiment_pb2.SENTIMENT_LABEL_POSITIVE: "positive",
    sentiment_pb2.SENTIMENT_LABEL_NEUTRAL: "neutral",
    sentiment_pb2.SENTIMENT_LABEL_NEGATIVE: "negative",
}


class SentimentUnavailable(Exception):
    """The sentiment service failed or missed its deadline: the feedback stays pending."""


class SentimentClient:
    def __init__(
        self,
        channel: grpc.aio.Channel,
        metadata: Sequence[tuple[str, str]],
        timeout: float,
        breaker_seconds: float = 1.0,
    ) -> None:
        self._stub = sentiment_pb2_grpc.SentimentServiceStub(channel)
        self._metadata = tuple(metadata)
        self._timeout = timeout
        # After a failure, submissions skip the call for a moment instead of each waiting
        # out the deadline; the background scorer keeps probing.
        self._breaker_seconds = breaker_seconds
        self._open_until = 0.0
        # One call in flight at a time: while it runs, new texts queue up for the next one,
        # so batch size grows with load.
        self._coalescer: Coalescer[str, SentimentScore] = Coalescer(
            self._score_coalesced,
            max_batch=MAX_BATCH,
            linger=COALESCE_SECONDS,
            busy_window=BUSY_SECONDS,
        )

    @property
    def timeout(self) -> float:
        return self._timeout

    def available(self) -> bool:
        return time.monotonic() >= self._open_until

    async def score_batch(
        self, texts: Sequence[str], *, probe: bool = False
    ) -> list[SentimentScore]:
        """Scores texts in request order; raises SentimentUnavailable on any failure."""
        if not texts:
            return []
        if not probe and not self.available():
            raise SentimentUnavailable("sentiment circuit open")
        results: list[SentimentScore] = []
        try:
            for start in range(0, len(texts), MAX_BATCH):
                chunk = list(texts[start : start + MAX_BATCH])
                response = await self._stub.BatchAnalyzeSentiment(
                    sentiment_pb2.BatchAnalyzeSentimentRequest(texts=chunk),
                    metadata=self._metadata,
                    timeout=self._timeout * math.ceil(len(chunk) / TEXTS_PER_DEADLINE),
                )
                if len(response.results) != len(chunk):
                    raise SentimentUnavailable("sentiment returned a wrong number of results")
                results.extend(_score(r) for r in response.results)
        except grpc.aio.AioRpcError as exc:
            self._open_until = time.monotonic() + self._breaker_seconds
            logger.warning("sentiment call failed: %s", exc.code().name)
            raise SentimentUnavailable(exc.code().name) from exc
        except SentimentUnavailable:
            self._open_until = time.monotonic() + self._breaker_seconds
            raise
        except Exception as exc:
            # Whatever else breaks (a closed channel, a malformed reply), the feedback must
            # still commit: it stays pending for the re-scorer.
            self._open_until = time.monotonic() + self._breaker_seconds
            logger.warning("sentiment call failed", exc_info=True)
            raise SentimentUnavailable(type(exc).__name__) from exc
        self._open_until = 0.0
        return results

    async def score_one(self, text: str) -> SentimentScore:
        """Scores one text, sharing a batch call with concurrent callers."""
        if not self.available():
            raise SentimentUnavailable("sentiment circuit open")
        # The caller's wait is bounded even if it queued behind an in-flight call. No
        # shield: a caller that gives up leaves the queue (the coalescer skips it), and no
        # orphaned task is left to fail with nobody reading its exception.
        return await asyncio.wait_for(self._coalescer.submit(text), self._timeout)

    async def _score_coalesced(self, texts: list[str]) -> list[SentimentScore]:
        return await self.score_batch(texts, probe=True)


def _score(result: sentiment_pb2.SentimentResult) -> SentimentScore:
    label = _LABELS.get(result.label)
    if label is None:
        raise SentimentUnavailable("sentiment returned no label")
    return SentimentScore(label=label, score=max(-1.0, min(1.0, result.score)))
