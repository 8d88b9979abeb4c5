"""The analytics, sentiment and ingest calls of both clients against the real mesh, and
the Python enums against the protos."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from client_helpers import Flavour, Mesh, agent_feedback, new_tenant, wait_until

from feedbackmesh.analytics.v1 import analytics_pb2
from feedbackmesh.client import (
    BatchItemStatus,
    FeedbackType,
    Granularity,
    InvalidArgumentError,
    SentimentLabel,
    SentimentStatus,
)
from feedbackmesh.feedback.v1 import feedback_pb2
from feedbackmesh.sentiment.v1 import sentiment_pb2


async def test_analytics_views_count_what_was_submitted(mesh: Mesh, flavour: Flavour) -> None:
    tenant = new_tenant()
    items = [agent_feedback(i) for i in range(40)]
    items += [{"feedback_type": FeedbackType.GENERAL, "rating": 2} for _ in range(5)]
    async with flavour.client(**mesh.options(tenant)) as client:
        await flavour.run(client.batch_submit, items)

        async def ingested() -> bool:
            ratings = await flavour.run(client.ratings_analytics)
            return bool(ratings.total_count == len(items))

        await wait_until(ingested, "the analytics to count every submission")
        end = datetime.now(UTC) + timedelta(hours=1)
        ratings = await flavour.run(
            client.ratings_analytics,
            start_time=end - timedelta(days=3),
            end_time=end,
            granularity=Granularity.DAY,
            time_zone="Asia/Kolkata",
        )
        assert isinstance(ratings, analytics_pb2.GetRatingsAnalyticsResponse)
        expected = {r: sum(1 for i in items if i["rating"] == r) for r in range(1, 6)}
        assert {d.rating: d.count for d in ratings.distribution} == expected
        assert sum(p.count for p in ratings.series) == len(items) and len(ratings.series) >= 3
        agents = await flavour.run(client.ratings_analytics, feedback_type=FeedbackType.AGENT)
        assert agents.total_count == 40
        assert agents.avg_rating == pytest.approx(sum(i["rating"] for i in items[:40]) / 40)

        sentiment = await flavour.run(client.sentiment_analytics, top_n=3)
        totals = sentiment.totals
        assert totals.positive + totals.neutral + totals.negative == 20
        assert totals.no_comment == 25 and len(sentiment.top_positive_themes) <= 3

        usage = await flavour.run(client.usage_trends, period="7d")
        assert usage.total_submissions == len(items) and len(usage.series) == 7
        assert {t.id: t.count for t in usage.top_agents} == {"1": 14, "2": 13, "3": 13}
        # One request shape: the same range, buckets and filters for every view.
        hour = end.replace(minute=0, second=0, microsecond=0)
        hourly = await flavour.run(
            client.usage_trends,
            start_time=hour - timedelta(days=1),
            end_time=hour,
            granularity=Granularity.HOUR,
            agent_id=2,
        )
        assert hourly.total_submissions == 13 and len(hourly.series) == 24
        weekly = await flavour.run(client.ratings_analytics, period="7d", agent_id=1)
        assert weekly.total_count == 14 and len(weekly.series) == 7
        # Every answer states the data version it was computed at; no rows landed since.
        versions = {ratings.data_version, sentiment.data_version, usage.data_version}
        assert versions == {weekly.data_version} and weekly.data_version > 0

        exported = await flavour.run(
            client.export_analytics, "ratings", granularity=Granularity.DAY
        )
        rows = list(csv.DictReader(io.StringIO(exported.decode())))
        assert sum(int(row["count"]) for row in rows) == len(items)

        with pytest.raises(InvalidArgumentError) as invalid:
            await flavour.run(client.ratings_analytics, time_zone="Mars/Olympus_Mons")
        assert "time_zone" in invalid.value.field_violations
        with pytest.raises(InvalidArgumentError) as invalid:
            await flavour.run(client.sentiment_analytics, period="7d", start_time=end)
        assert invalid.value.field_violations


async def test_watch_announces_the_data_version_of_new_rows(mesh: Mesh, flavour: Flavour) -> None:
    async with flavour.client(**mesh.options(new_tenant())) as client:
        await flavour.run(client.submit, **agent_feedback(0))

        async def counted(total: int) -> bool:
            return bool((await flavour.run(client.ratings_analytics)).total_count == total)

        await wait_until(lambda: counted(1), "the first submission in the analytics")
        answered = await flavour.run(client.ratings_analytics)
        events = flavour.stream(client.watch_analytics)
        try:
            first = await events.next()
            assert first.data_version == answered.data_version > 0
            await flavour.run(client.submit, **agent_feedback(1))
            # Keep-alives repeat the version; the next different one is the new row's.
            while (event := await events.next()).data_version == first.data_version:
                pass
        finally:
            await events.close()
        assert event.data_version > first.data_version
        after = await flavour.run(client.ratings_analytics)
        assert after.total_count == 2 and after.data_version >= event.data_version


async def test_analyze_sentiment_and_ingest_status(mesh: Mesh, flavour: Flavour) -> None:
    async with flavour.client(**mesh.options(new_tenant())) as client:
        scored = await flavour.run(client.analyze_sentiment, "This agent is wonderful, thanks!")
        assert SentimentLabel(scored.label) is SentimentLabel.POSITIVE and scored.score > 0
        assert scored.analyzer == "vader"
        with pytest.raises(InvalidArgumentError) as invalid:
            await flavour.run(client.analyze_sentiment, "   ")
        assert list(invalid.value.field_violations) == ["text"]

        status = await flavour.run(client.ingest_status)
        assert status.pubsub_connected and status.rows_in_clickhouse >= 0


@pytest.mark.parametrize(
    ("ours", "proto_enum", "prefix"),
    [
        (FeedbackType, feedback_pb2.FeedbackType, "FEEDBACK_TYPE_"),
        (SentimentStatus, feedback_pb2.SentimentStatus, "SENTIMENT_STATUS_"),
        (BatchItemStatus, feedback_pb2.BatchItemStatus, "BATCH_ITEM_STATUS_"),
        (SentimentLabel, sentiment_pb2.SentimentLabel, "SENTIMENT_LABEL_"),
        (Granularity, analytics_pb2.Granularity, "GRANULARITY_"),
    ],
)
def test_python_enums_are_the_protos(ours: type, proto_enum: object, prefix: str) -> None:
    proto = {name.removeprefix(prefix): value for name, value in proto_enum.items()}  # type: ignore[attr-defined]
    assert {member.name: member.value for member in ours} == proto  # type: ignore[attr-defined]
