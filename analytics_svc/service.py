"""Analytics logic: validation, buckets, zero-filling, averages and trends.

Counts and sums come from ClickHouse per bucket; every bucket of the range is present
(zero when empty) and every average is a sum divided by a count here, so the numbers
equal the same aggregates over PostgreSQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from analytics_svc.buckets import Grain, split_range
from analytics_svc.repository import AnalyticsRepository, Filters, Measures, Ranked, Usage
from analytics_svc.window import Window, parse_top_n, range_window, usage_window


@dataclass(frozen=True, slots=True)
class RangeParams:
    start: datetime | None = None
    end: datetime | None = None
    grain: Grain = Grain.DAY
    time_zone: str = ""
    feedback_type: str = ""  # "" = all types
    agent_id: int = 0
    execution_id: int = 0
    chat_session_id: str = ""
    top_n: int = 0


@dataclass(frozen=True, slots=True)
class UsageParams:
    period: str = ""
    time_zone: str = ""
    feedback_type: str = ""
    top_n: int = 0
    end: datetime | None = None


@dataclass(frozen=True, slots=True)
class RatingsPoint:
    date: str
    count: int
    avg_rating: float
    rating_sum: int


@dataclass(frozen=True, slots=True)
class Trend:
    previous_count: int
    previous_avg_rating: float
    count_change: int
    count_change_percent: float
    avg_rating_change: float


@dataclass(frozen=True, slots=True)
class Ratings:
    total_count: int
    avg_rating: float
    series: list[RatingsPoint]
    distribution: list[tuple[int, int]]  # (rating, count) for 1..5
    trend: Trend


@dataclass(frozen=True, slots=True)
class SentimentPoint:
    date: str
    positive: int
    neutral: int
    negative: int
    no_comment: int
    avg_sentiment_score: float


@dataclass(frozen=True, slots=True)
class Theme:
    tag: str
    count: int
    avg_rating: float


@dataclass(frozen=True, slots=True)
class Sentiment:
    series: list[SentimentPoint]
    totals: tuple[int, int, int, int]  # positive, neutral, negative, no_comment
    avg_sentiment_score: float
    top_positive_themes: list[Theme] = field(default_factory=list)
    top_negative_themes: list[Theme] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class UsagePoint:
    date: str
    submissions: int
    active_users: int


@dataclass(frozen=True, slots=True)
class TopTarget:
    id: str
    count: int
    avg_rating: float


@dataclass(frozen=True, slots=True)
class UsageTrends:
    series: list[UsagePoint]
    top_agents: list[TopTarget]
    top_executions: list[TopTarget]
    total_submissions: int
    total_active_users: int


def _ratio(total: float, count: int) -> float:
    return total / count if count else 0.0


def _utc_now() -> datetime:
    return datetime.now(UTC)


class AnalyticsService:
    def __init__(
        self, repository: AnalyticsRepository, now: Callable[[], datetime] = _utc_now
    ) -> None:
        self._repository = repository
        self._now = now

    @staticmethod
    def _filters(tenant_id: str, params: RangeParams) -> Filters:
        return Filters(
            tenant_id,
            params.feedback_type,
            params.agent_id,
            params.execution_id,
            params.chat_session_id,
        )

    def _window(self, params: RangeParams) -> Window:
        return range_window(params.start, params.end, params.grain, params.time_zone, self._now())

    async def _measures(
        self, rpc: str, which: str, filters: Filters, window: Window, trend: bool = False
    ) -> tuple[list[tuple[str, Measures]], Measures, Measures]:
        """Per bucket (zero-filled, oldest first), the range total and (with ``trend``) the
        previous period's total."""
        # Rollups carry no target ids; zones off whole hours need the raw events.
        split = split_range(window.start, window.end, window.hour_aligned and not filters.targets)
        # The previous period is only summed (no buckets), so its whole UTC hours come from
        # the rollups exactly in any zone.
        previous = split_range(*window.previous(), not filters.targets) if trend else None
        rows, previous_total = await self._repository.measures(
            rpc, which, filters, split, window.grain, window.tz_name, previous
        )
        total = Measures()
        for measures in rows.values():
            total.add(measures)
        series = [(b.label, rows.get(b.key, Measures())) for b in window.buckets]
        return series, total, previous_total

    async def ratings(self, tenant_id: str, params: RangeParams) -> Ratings:
        window = self._window(params)
        filters = self._filters(tenant_id, params)
        series, total, previous = await self._measures(
            "GetRatingsAnalytics", "ratings", filters, window, trend=True
        )
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
        rpc = "GetSentimentAnalytics"
        split = split_range(window.start, window.end, not filters.targets)
        (series, total, _), themes = await asyncio.gather(
            self._measures(rpc, "sentiment", filters, window),
            self._repository.themes(rpc, filters, split, top_n),
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

    async def usage_trends(self, tenant_id: str, params: UsageParams) -> UsageTrends:
        window = usage_window(params.period, params.time_zone, params.end, self._now())
        top_n = parse_top_n(params.top_n)
        filters = Filters(tenant_id, params.feedback_type)
        rpc = "GetUsageTrends"
        repo = self._repository
        daily = split_range(window.start, window.end, window.hour_aligned)
        (rows, total), tops = await asyncio.gather(
            repo.usage(rpc, filters, daily, Grain.DAY, window.tz_name),
            repo.top_targets(rpc, filters, window.start, window.end, top_n),
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
