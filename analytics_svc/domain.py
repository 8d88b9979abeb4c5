"""The analytics domain: the request shape and the answers of the views (immutable, so
cached answers can be shared)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from analytics_svc.buckets import Grain


@dataclass(frozen=True, slots=True)
class RangeParams:
    """The one request shape of every view and export (see analytics.proto)."""

    start: datetime | None = None
    end: datetime | None = None
    grain: Grain = Grain.DAY
    time_zone: str = ""
    feedback_type: str = ""  # "" = all types
    agent_id: int = 0
    execution_id: int = 0
    chat_session_id: str = ""
    top_n: int = 0
    period: str = ""  # "7d" | "30d" | "90d": whole local days instead of start/end


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
    # The tenant's data version the answer was computed at.
    data_version: int = 0


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
    # The tenant's data version the answer was computed at.
    data_version: int = 0


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
    # The tenant's data version the answer was computed at.
    data_version: int = 0
