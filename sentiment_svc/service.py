"""Sentiment scoring: validation, and micro-batching of concurrent requests so that
many single-text calls share one model pass (the model is far cheaper per text in
a batch)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from mesh_runtime.errors import FieldViolation, InvalidArgument
from sentiment_svc import metrics
from sentiment_svc.analyzers import ANALYZER_NAMES, Analyzer, SentimentResult

MAX_TEXT_CHARS = 10_000
MAX_BATCH_SIZE = 1_000
# Longest a single request waits for companions before its pass starts.
MICRO_BATCH_WINDOW_SECONDS = 0.002
MICRO_BATCH_MAX_TEXTS = 64


def validate_text(text: str, field: str) -> FieldViolation | None:
    if not text.strip():
        return FieldViolation(field, "must not be empty or whitespace-only")
    if len(text) > MAX_TEXT_CHARS:
        return FieldViolation(field, f"must be at most {MAX_TEXT_CHARS} characters")
    return None


class SentimentService:
    def __init__(self, analyzer: Analyzer) -> None:
        self._analyzer = analyzer
        # One model worker: passes run one at a time off the event loop.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sentiment-model")
        self._pending: list[tuple[str, asyncio.Future[SentimentResult]]] = []
        self._flush_scheduled = False
        self._passes: set[asyncio.Task[list[SentimentResult]]] = set()

    @property
    def analyzer_name(self) -> str:
        return self._analyzer.name

    @property
    def analyzer_version(self) -> str:
        return self._analyzer.version

    @property
    def available_analyzers(self) -> Sequence[str]:
        return ANALYZER_NAMES

    async def analyze(self, text: str) -> SentimentResult:
        violation = validate_text(text, "text")
        if violation:
            raise InvalidArgument([violation])
        future: asyncio.Future[SentimentResult] = asyncio.get_running_loop().create_future()
        self._pending.append((text, future))
        if len(self._pending) >= MICRO_BATCH_MAX_TEXTS:
            self._flush()
        elif not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_later(MICRO_BATCH_WINDOW_SECONDS, self._flush)
        return await future

    async def analyze_batch(self, texts: Sequence[str]) -> list[SentimentResult]:
        if not texts:
            raise InvalidArgument.single("texts", "must contain at least one text")
        if len(texts) > MAX_BATCH_SIZE:
            raise InvalidArgument.single("texts", f"must contain at most {MAX_BATCH_SIZE} texts")
        violations = [
            v for i, text in enumerate(texts) if (v := validate_text(text, f"texts[{i}]"))
        ]
        if violations:
            raise InvalidArgument(violations)
        return await self._run_pass(list(texts))

    def _flush(self) -> None:
        self._flush_scheduled = False
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        task = asyncio.get_running_loop().create_task(self._run_pass([t for t, _ in batch]))
        self._passes.add(task)
        task.add_done_callback(self._passes.discard)
        task.add_done_callback(lambda done: _settle(batch, done))

    async def _run_pass(self, texts: list[str]) -> list[SentimentResult]:
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        results = await loop.run_in_executor(self._executor, self._analyzer.analyze_batch, texts)
        name = self._analyzer.name
        metrics.ANALYSIS_SECONDS.labels(name).observe(time.perf_counter() - started)
        metrics.PASS_SIZE.labels(name).observe(len(texts))
        for result in results:
            metrics.LABELS_TOTAL.labels(name, result.label).inc()
        return results

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def _settle(
    batch: list[tuple[str, asyncio.Future[SentimentResult]]],
    done: asyncio.Future[list[SentimentResult]],
) -> None:
    error = done.exception() if not done.cancelled() else asyncio.CancelledError()
    for index, (_, future) in enumerate(batch):
        if future.done():
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(done.result()[index])
