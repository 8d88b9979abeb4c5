"""Analytics logic: validation, buckets, zero-filling, averages and trends.

Counts and sums come from ClickHouse per bucket; every bucket of the range is present
(zero when empty) and every average is a sum divided by a count here, so the numbers
equal the same aggregates over PostgreSQL. Each answer is stamped with the tenant's data
version and cached by it (analytics_svc/answers.py); the request is normalized first
(every default resolved to instants by analytics_svc/window.py), so equal questions
share an answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

from analytics_svc.answers import VersionedAnswers
from analytics_svc.buckets import split_range
from analytics_svc.cache import AnswerCache
from analytics_svc.domain import (
    RangeParams,
    Ratings,
    RatingsPoint,
    Sentiment,
    SentimentPoint,
    Theme,
    TopTarget,
    Trend,
    UsagePoint,
    UsageTrends,
)
from analytics_svc.repository import AnalyticsRepository, Filters, Measures, Ranked, Usage
from analytics_svc.versions import VersionReader
from analytics_svc.window import DEFAULT_USAGE_PERIOD, Window, parse_top_n, resolve_window


def _ratio(total: float, count: int) -> float:
    return total / count if count else 0.0


def _utc_now() -> datetime:
    return datetime.now(UTC)


class AnalyticsService:
    def __init__(
        self,
        repository: AnalyticsRepository,
        versions: VersionReader | None = None,
        cache_bytes: int = 0,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._repository = repository
        self._now = now
        reader = versions if versions is not None else VersionReader(repository.data_version)
        self._answers = VersionedAnswers(reader, AnswerCache(cache_bytes))

    @staticmethod
    def _filters(tenant_id: str, params: RangeParams) -> Filters:
        return Filters(
            tenant_id,
            params.feedback_type,
            params.agent_id,
            params.execution_id,
            params.chat_session_id,
        )

    def _window(self, params: RangeParams, default_period: str = "") -> Window:
        return resolve_window(
            params.start, params.end, params.period, params.grain, params.time_zone,
            self._now(), default_period,
        )  # fmt: skip

    @staticmethod
    def _request(view: str, window: Window, filters: Filters, top_n: int = 0) -> tuple[object, ...]:
        """The normalized request: what the answer depends on besides tenant and version."""
        return (view, window.start, window.end, window.grain, window.tz_name,
                filters.feedback_type, filters.agent_id, filters.execution_id,
                filters.chat_session_id, top_n)  # fmt: skip

    async def _measures(
        self, which: str, filters: Filters, window: Window, trend: bool = False
    ) -> tuple[list[tuple[str, Measures]], Measures, Measures]:
        """Per bucket (zero-filled, oldest first), the range total and (with ``trend``) the
        previous period's total."""
        # Rollups carry no target ids; zones off whole hours need the raw events.
        split = split_range(window.start, window.end, window.hour_aligned and not filters.targets)
        # The previous period is only summed (no buckets), so its whole UTC hours come from
        # the rollups exactly in any zone.
        previous = split_range(*window.previous(), not filters.targets) if trend else None
        rows, previous_total = await self._repository.measures(
            which, filters, split, window.grain, window.tz_name, previous
        )
        total = Measures()
        for measures in rows.values():
            total.add(measures)
        series = [(b.label, rows.get(b.key, Measures())) for b in window.buckets]
        return series, total, previous_total

    async def ratings(self, tenant_id: str, params: RangeParams) -> Ratings:
        window = self._window(params)
        filters = self._filters(tenant_id, params)
        request = self._request("ratings", window, filters)
        return await self._answers.get(
            "ratings", tenant_id, request, lambda: self._ratings(filters, window)
        )

    async def _ratings(self, filters: Filters, window: Window) -> Ratings:
        series, total, previous = await self._measures("ratings", filters, window, trend=True)
        avg = _ratio(total.rating_sum, total.count)
        previous_avg = _ratio(previous.rating_sum, previous.count)
        trend = Trend(
            previous_count=previous.count,
            previous_avg_rating=previous_avg,
            count_change=total.count - previous.count,
            count_change_percent=_ratio(100.0 * (total.count - previous.count), previous.count),
            avg_rating_change=avg - previous_avg if total.count and previous.count else 0.0,
        )
        return Ratings(
            total_count=total.count,
            avg_rating=avg,
            series=[
                RatingsPoint(label, m.count, _ratio(m.rating_sum, m.count), m.rating_sum)
                for label, m in series
            ],
            distribution=list(enumerate(total.ratings(), start=1)),
            trend=trend,
        )

    async def sentiment(self, tenant_id: str, params: RangeParams) -> Sentiment:
        window = self._window(params)
        top_n = parse_top_n(params.top_n)
        filters = self._filters(tenant_id, params)
        request = self._request("sentiment", window, filters, top_n)
        return await self._answers.get(
            "sentiment", tenant_id, request, lambda: self._sentiment(filters, window, top_n)
        )

    async def _sentiment(self, filters: Filters, window: Window, top_n: int) -> Sentiment:
        split = split_range(window.start, window.end, not filters.targets)
        (series, total, _), themes = await asyncio.gather(
            self._measures("sentiment", filters, window),
            self._repository.themes(filters, split, top_n),
        )
        return Sentiment(
            series=[
                SentimentPoint(
                    label,
                    m.positive,
                    m.neutral,
                    m.negative,
                    m.no_comment,
                    _ratio(m.sentiment_score_sum, m.scored_count),
                )
                for label, m in series
            ],
            totals=(total.positive, total.neutral, total.negative, total.no_comment),
            avg_sentiment_score=_ratio(total.sentiment_score_sum, total.scored_count),
            top_positive_themes=[_theme(r) for r in themes["positive"]],
            top_negative_themes=[_theme(r) for r in themes["negative"]],
        )

    async def usage_trends(self, tenant_id: str, params: RangeParams) -> UsageTrends:
        window = self._window(params, DEFAULT_USAGE_PERIOD)
        top_n = parse_top_n(params.top_n)
        filters = self._filters(tenant_id, params)
        request = self._request("usage", window, filters, top_n)
        return await self._answers.get(
            "usage", tenant_id, request, lambda: self._usage_trends(filters, window, top_n)
        )

    async def _usage_trends(self, filters: Filters, window: Window, top_n: int) -> UsageTrends:
        repo = self._repository
        split = split_range(window.start, window.end, window.hour_aligned and not filters.targets)
        (rows, total), tops = await asyncio.gather(
            repo.usage(filters, split, window.grain, window.tz_name),
            repo.top_targets(filters, window.start, window.end, top_n),
        )
        series = []
        for bucket in window.buckets:
            usage = rows.get(bucket.key, Usage(0, 0))
            series.append(UsagePoint(bucket.label, usage.submissions, usage.active_users))
        return UsageTrends(
            series=series,
            top_agents=[_target(r) for r in tops["agent"]],
            top_executions=[_target(r) for r in tops["execution"]],
            total_submissions=total.submissions,
            total_active_users=total.active_users,
        )


def _theme(ranked: Ranked) -> Theme:
    return Theme(ranked.key, ranked.count, _ratio(ranked.rating_sum, ranked.count))


def _target(ranked: Ranked) -> TopTarget:
    return TopTarget(ranked.key, ranked.count, _ratio(ranked.rating_sum, ranked.count))
