"""Sentiment scoring: validation, bounded cost per call, and fair scheduling.

Concurrent single-text calls share one model pass (the shared :class:`Coalescer`); every
call runs through one :class:`ModelLane`, which lets a call that fits in one pass go
ahead of the passes of large batches and drops the work of callers that have gone.

Cost per call is bounded: at most :data:`MAX_BATCH_SIZE` texts of at most
:data:`MAX_TEXT_CHARS` characters, and the default analyzer reads each text only up to
its token limit (``max_len`` in the model's meta file): the rest of a longer text is not
read and does not change its score.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from mesh_runtime.coalesce import Coalescer
from mesh_runtime.errors import DeadlineExceeded, FieldViolation, InvalidArgument
from sentiment_svc import metrics
from sentiment_svc.analyzers import ANALYZER_NAMES, Analyzer, SentimentResult
from sentiment_svc.lane import PASS_TEXTS, ModelLane

MAX_TEXT_CHARS = 10_000
MAX_BATCH_SIZE = 1_000


def validate_text(text: str, field: str) -> FieldViolation | None:
    if not text.strip():
        return FieldViolation(field, "must not be empty or whitespace-only")
    if len(text) > MAX_TEXT_CHARS:
        return FieldViolation(field, f"must be at most {MAX_TEXT_CHARS} characters")
    return None


class SentimentService:
    def __init__(self, analyzer: Analyzer) -> None:
        self._analyzer = analyzer
        self._lane: ModelLane[SentimentResult] = ModelLane(self._measured_pass)
        # While a pass runs, single texts queue and leave together as the next pass.
        self._singles: Coalescer[str, SentimentResult] = Coalescer(
            self._lane.run, max_batch=PASS_TEXTS
        )

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
        return await self._singles.submit(text)

    async def analyze_batch(
        self, texts: Sequence[str], deadline: float | None = None
    ) -> list[SentimentResult]:
        """``deadline`` (event-loop time): no pass starts after it."""
        if not texts:
            raise InvalidArgument.single("texts", "must contain at least one text")
        if len(texts) > MAX_BATCH_SIZE:
            raise InvalidArgument.single("texts", f"must contain at most {MAX_BATCH_SIZE} texts")
        violations = [
            v for i, text in enumerate(texts) if (v := validate_text(text, f"texts[{i}]"))
        ]
        if violations:
            raise InvalidArgument(violations)
        try:
            return await self._lane.run(texts, deadline)
        except TimeoutError as exc:
            raise DeadlineExceeded("the deadline passed before the texts were scored") from exc

    def _measured_pass(self, texts: list[str]) -> list[SentimentResult]:
        started = time.perf_counter()
        results = self._analyzer.analyze_batch(texts)
        name = self._analyzer.name
        metrics.ANALYSIS_SECONDS.labels(name).observe(time.perf_counter() - started)
        metrics.PASS_SIZE.labels(name).observe(len(texts))
        for result in results:
            metrics.LABELS_TOTAL.labels(name, result.label).inc()
        return results

    def close(self) -> None:
        self._lane.close()
