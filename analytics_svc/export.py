"""CSV exports of the analytics views: a header row, then one row per bucket, with the
same numbers as the JSON views (floats in Python's shortest round-trip form)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from analytics_svc.service import AnalyticsService, RangeParams, UsageParams
from mesh_runtime.errors import InvalidArgument

CONTENT_TYPE = "text/csv; charset=utf-8"
VIEWS = ("ratings", "sentiment", "usage-trends")


def _csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


async def export_view(
    service: AnalyticsService,
    tenant_id: str,
    view: str,
    params: RangeParams,
    usage: UsageParams,
) -> bytes:
    if view == "ratings":
        ratings = await service.ratings(tenant_id, params)
        return _csv(
            ("date", "count", "avg_rating", "rating_sum"),
            ((p.date, p.count, repr(p.avg_rating), p.rating_sum) for p in ratings.series),
        )
    if view == "sentiment":
        sentiment = await service.sentiment(tenant_id, params)
        return _csv(
            ("date", "positive", "neutral", "negative", "no_comment", "avg_sentiment_score"),
            (
                (p.date, p.positive, p.neutral, p.negative, p.no_comment,
                 repr(p.avg_sentiment_score))
                for p in sentiment.series
            ),
        )  # fmt: skip
    if view == "usage-trends":
        trends = await service.usage_trends(tenant_id, usage)
        return _csv(
            ("date", "submissions", "active_users"),
            ((p.date, p.submissions, p.active_users) for p in trends.series),
        )
    raise InvalidArgument.single("view", f"must be one of {', '.join(VIEWS)}")
