"""The service layer over real chDB (the ingest schema and its materialized views) equals a
brute-force Python reference: rollup + raw-edge splits, DST, non-whole-hour zones,
target filters; and the gRPC surface (validation, tenant walls, CSV export)."""

from __future__ import annotations

import asyncio
import csv
import io
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
import pytest_asyncio
from analytics_reference import Event, by_bucket, random_events, select, themes, top
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from analytics_svc.buckets import Grain, floor_hour
from analytics_svc.domain import RangeParams
from analytics_svc.repository import AnalyticsRepository
from analytics_svc.service import AnalyticsService
from analytics_svc.window import resolve_window
from feedbackmesh.analytics.v1 import analytics_pb2 as pb
from feedbackmesh.analytics.v1 import analytics_pb2_grpc
from ingest_svc.schema import EVENT_COLUMNS, migrate_clickhouse
from mesh_runtime.auth import bearer_metadata
from mesh_runtime.resources import create_clickhouse_client
from mesh_runtime.server import MeshServer
from mesh_runtime.settings import Settings

NOW = datetime(2025, 11, 20, 13, 37, 11, 250_000, tzinfo=UTC)
RUN = uuid.uuid4().hex[:6]
TENANTS = [f"ref-a-{RUN}", f"ref-b-{RUN}"]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def events(settings: Settings) -> list[Event]:
    rows = random_events(random.Random(7), TENANTS, 1500, NOW, 120)

    def load() -> None:
        migrate_clickhouse(settings)
        client = create_clickhouse_client(settings, database=settings.clickhouse_database)
        try:
            client.insert("feedback_events", [e.row() for e in rows], column_names=EVENT_COLUMNS)
        finally:
            client.close()

    await asyncio.to_thread(load)
    return rows


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def service(settings: Settings) -> AsyncIterator[AnalyticsService]:
    repository = AnalyticsRepository(settings)
    yield AnalyticsService(repository, now=lambda: NOW)
    await repository.close()


def at(days: float, minutes: int = 0) -> datetime:
    return NOW - timedelta(days=days, minutes=minutes)


CASES = [
    # start, end, grain, zone, feedback_type, agent_id
    (None, None, Grain.DAY, "UTC", "", 0),
    (at(100, 13), at(0, 7), Grain.DAY, "America/Los_Angeles", "", 0),
    (at(119), at(1), Grain.WEEK, "America/Los_Angeles", "agent", 0),
    (at(120), NOW, Grain.MONTH, "UTC", "", 0),
    (at(90, 31), at(3), Grain.DAY, "Asia/Kolkata", "", 0),
    (at(90), at(2), Grain.MONTH, "Asia/Kolkata", "chat", 0),
    (at(19, 5), at(17), Grain.HOUR, "America/Los_Angeles", "", 0),  # Nov 2 fall-back
    (at(6, 44), at(4), Grain.HOUR, "Asia/Kolkata", "", 0),
    (at(110), at(0, 1), Grain.WEEK, "UTC", "agent", 3),
    (at(0, 50), at(0, 20), Grain.DAY, "UTC", "", 0),  # inside one hour
    # whole hours at both ends: rollups only, for the range and its previous period
    (floor_hour(at(45)), floor_hour(NOW), Grain.DAY, "America/Los_Angeles", "", 0),
]


@pytest.mark.parametrize(("start", "end", "grain", "tz", "ftype", "agent"), CASES)
async def test_ratings_and_sentiment_equal_the_reference(
    events: list[Event],
    service: AnalyticsService,
    start: datetime | None,
    end: datetime | None,
    grain: Grain,
    tz: str,
    ftype: str,
    agent: int,
) -> None:
    tenant = TENANTS[0]
    params = RangeParams(start, end, grain, tz, ftype, agent_id=agent, top_n=4)
    window = resolve_window(start, end, "", grain, tz, NOW)
    chosen = select(events, tenant, window.start, window.end, ftype, agent)
    expected = by_bucket(chosen, window)
    ratings = await service.ratings(tenant, params)
    assert [(p.date, p.count, p.rating_sum) for p in ratings.series] == [
        (b.label, e.count, e.rating_sum) for b, e in zip(window.buckets, expected, strict=True)
    ]
    for point, bucket in zip(ratings.series, expected, strict=True):
        assert point.avg_rating == pytest.approx(
            bucket.rating_sum / bucket.count if bucket.count else 0.0, abs=1e-9
        )
    assert ratings.total_count == len(chosen)
    assert dict(ratings.distribution) == {
        r: sum(e.rating == r for e in chosen) for r in range(1, 6)
    }
    prev_start, prev_end = window.previous()
    previous = select(events, tenant, prev_start, prev_end, ftype, agent)
    assert ratings.trend.previous_count == len(previous)
    if previous:
        expected_prev = sum(e.rating for e in previous) / len(previous)
        assert ratings.trend.previous_avg_rating == pytest.approx(expected_prev, abs=1e-9)

    sentiment = await service.sentiment(tenant, params)
    assert [(p.positive, p.neutral, p.negative, p.no_comment) for p in sentiment.series] == [
        tuple(e.sentiments[s] for s in ("positive", "neutral", "negative", "no_comment"))
        for e in expected
    ]
    scored = [e.sentiment_score for e in chosen if e.sentiment != "no_comment"]
    assert sentiment.avg_sentiment_score == pytest.approx(
        sum(scored) / len(scored) if scored else 0.0, abs=1e-9
    )
    for side, got in (
        ("positive", sentiment.top_positive_themes),
        ("negative", sentiment.top_negative_themes),
    ):
        want = themes(chosen, side, 4)
        assert [(t.tag, t.count) for t in got] == [(w[0], w[1]) for w in want]
        assert [t.avg_rating for t in got] == pytest.approx([w[2] for w in want], abs=1e-9)


@pytest.mark.parametrize(
    ("period", "tz", "end"),
    [("7d", "UTC", None), ("30d", "America/Los_Angeles", at(3, 17)), ("90d", "Asia/Kolkata", None)],
)
async def test_usage_trends_equal_the_reference(
    events: list[Event], service: AnalyticsService, period: str, tz: str, end: datetime | None
) -> None:
    tenant = TENANTS[1]
    window = resolve_window(None, end, period, Grain.DAY, tz, NOW)
    chosen = select(events, tenant, window.start, window.end)
    expected = by_bucket(chosen, window)
    usage = await service.usage_trends(
        tenant, RangeParams(end=end, time_zone=tz, top_n=5, period=period)
    )
    assert [(p.date, p.submissions, p.active_users) for p in usage.series] == [
        (b.label, e.count, len(e.users)) for b, e in zip(window.buckets, expected, strict=True)
    ]
    assert usage.total_submissions == len(chosen)
    assert usage.total_active_users == len({e.user_id for e in chosen})
    for got, attr in ((usage.top_agents, "agent_id"), (usage.top_executions, "execution_id")):
        want = top(chosen, attr, 5)
        assert [(t.id, t.count) for t in got] == [(w[0], w[1]) for w in want]
        assert [t.avg_rating for t in got] == pytest.approx([w[2] for w in want], abs=1e-9)


Serve = Callable[..., Awaitable[MeshServer]]


def _ts(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


async def test_grpc_views_validation_tenant_walls_and_csv(
    events: list[Event], serve: Serve, token_for: Callable[..., str]
) -> None:
    server = await serve(["analytics"])
    window: dict[str, Any] = {
        "start_time": _ts(at(60)),
        "end_time": _ts(NOW),
        "time_zone": "America/Los_Angeles",
    }
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        stub = analytics_pb2_grpc.AnalyticsServiceStub(channel)
        owner = bearer_metadata(token_for(TENANTS[0]))
        stranger = bearer_metadata(token_for(f"nobody-{RUN}"))

        mine = await stub.GetRatingsAnalytics(
            pb.GetRatingsAnalyticsRequest(**window), metadata=owner
        )
        assert mine.total_count > 0 and len(mine.distribution) == 5
        theirs = await stub.GetRatingsAnalytics(
            pb.GetRatingsAnalyticsRequest(**window), metadata=stranger
        )
        assert theirs.total_count == 0 and theirs.trend.previous_count == 0
        assert len(theirs.series) == len(mine.series) == 61
        assert all(p.count == 0 and p.avg_rating == 0 for p in theirs.series)

        csv_body = await stub.ExportAnalytics(
            pb.ExportAnalyticsRequest(view="ratings", **window), metadata=owner
        )
        assert csv_body.content_type == "text/csv; charset=utf-8"
        rows = list(csv.reader(io.StringIO(csv_body.data.decode())))
        assert rows[0] == ["date", "count", "avg_rating", "rating_sum"]
        assert rows[1:] == [
            [p.date, str(p.count), repr(p.avg_rating), str(p.rating_sum)] for p in mine.series
        ]
        for view in ("sentiment", "usage-trends"):
            body = await stub.ExportAnalytics(
                pb.ExportAnalyticsRequest(view=view, **window), metadata=stranger
            )
            lines = body.data.decode().splitlines()
            assert all(set(line.split(",")[1:]) <= {"0", "0.0"} for line in lines[1:])

        invalid = [
            ("GetRatingsAnalytics", pb.GetRatingsAnalyticsRequest(
                start_time=_ts(NOW), end_time=_ts(at(1))), "end_time"),
            ("GetRatingsAnalytics", pb.GetRatingsAnalyticsRequest(
                start_time=_ts(at(800)), end_time=_ts(NOW)), "start_time"),
            ("GetSentimentAnalytics", pb.GetSentimentAnalyticsRequest(
                start_time=_ts(at(365)), end_time=_ts(NOW),
                    granularity=pb.GRANULARITY_HOUR), "granularity"),
            ("GetSentimentAnalytics", pb.GetSentimentAnalyticsRequest(
                time_zone="Nowhere/Land"), "time_zone"),
            ("GetUsageTrends", pb.GetUsageTrendsRequest(period="365d"), "period"),
            ("ExportAnalytics", pb.ExportAnalyticsRequest(view="secrets"), "view"),
        ]  # fmt: skip
        for method, request, field in invalid:
            with pytest.raises(grpc.aio.AioRpcError) as exc:
                await getattr(stub, method)(request, metadata=owner)
            assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            status = rpc_status.from_call(exc.value)
            assert status is not None
            detail = error_details_pb2.BadRequest()
            status.details[0].Unpack(detail)
            assert [v.field for v in detail.field_violations] == [field]

        with pytest.raises(grpc.aio.AioRpcError) as denied:
            await stub.GetUsageTrends(
                pb.GetUsageTrendsRequest(),
                metadata=bearer_metadata(token_for(TENANTS[0], scopes=["feedback:read"])),
            )
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
