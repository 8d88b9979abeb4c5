"""CSV exports of the analytics views: a header row, then one row per bucket, with the
same numbers as the JSON views (floats in Python's shortest round-trip form)."""

from __future__ import annotations

import csv
import enum
import io
from collections.abc import Iterable, Sequence

from analytics_svc.domain import Ratings, Sentiment, UsageTrends
from mesh_runtime.errors import InvalidArgument

CONTENT_TYPE = "text/csv; charset=utf-8"


class View(enum.Enum):
    RATINGS = "ratings"
    SENTIMENT = "sentiment"
    USAGE_TRENDS = "usage-trends"


def parse_view(name: str) -> View:
    try:
        return View(name)
    except ValueError:
        raise InvalidArgument.single(
            "view", f"must be one of {', '.join(v.value for v in View)}"
        ) from None


def _csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def ratings_csv(ratings: Ratings) -> bytes:
    return _csv(
        ("date", "count", "avg_rating", "rating_sum"),
        ((p.date, p.count, repr(p.avg_rating), p.rating_sum) for p in ratings.series),
    )


def sentiment_csv(sentiment: Sentiment) -> bytes:
    return _csv(
        ("date", "positive", "neutral", "negative", "no_comment", "avg_sentiment_score"),
        (
            (p.date, p.positive, p.neutral, p.negative, p.no_comment, repr(p.avg_sentiment_score))
            for p in sentiment.series
        ),
    )


def usage_csv(trends: UsageTrends) -> bytes:
    return _csv(
        ("date", "submissions", "active_users"),
        ((p.date, p.submissions, p.active_users) for p in trends.series),
    )
