"""Done-when test of issue E: 2,000 random feedback over 3 tenants and 120 days go through
the real pipeline (FeedbackService + SentimentService -> PostgreSQL + outbox ->
IngestService -> ClickHouse); every number of every analytics view equals SQL over
PostgreSQL, for day/week/month and UTC, America/Los_Angeles and Asia/Kolkata.

The pipeline stamps ``created_at = now()``. To spread feedback over 120 days, the test
submits with no ingest worker running, waits until the outbox released every row, then
(test only) UPDATEs ``created_at`` in PostgreSQL and clears the outbox rows' stored event
payloads, and only then starts the ingest worker: without a payload the outbox pull
rebuilds the event from the feedback row, so ClickHouse receives the updated times.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import asyncpg
import grpc
import pytest_asyncio
from analytics_pipeline import (
    Case,
    Servers,
    backdate,
    check_ratings,
    check_sentiment,
    check_usage,
    pg_usage,
    random_submission,
)
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from feedback_svc.migrations import migrate_database
from feedbackmesh.analytics.v1 import analytics_pb2 as pb
from feedbackmesh.analytics.v1 import analytics_pb2_grpc
from feedbackmesh.feedback.v1 import feedback_pb2, feedback_pb2_grpc
from mesh_runtime.auth import bearer_metadata
from mesh_runtime.resources import create_clickhouse_client
from mesh_runtime.settings import Settings

RUN = uuid.uuid4().hex[:6]
TENANTS = [f"pipe-a-{RUN}", f"pipe-b-{RUN}", f"pipe-c-{RUN}"]
EMPTY_TENANT = f"pipe-empty-{RUN}"
TOTAL = 2000
GRAINS = {"day": pb.GRANULARITY_DAY, "week": pb.GRANULARITY_WEEK, "month": pb.GRANULARITY_MONTH,
          "hour": pb.GRANULARITY_HOUR}  # fmt: skip
TYPES = {"": 0, "agent": feedback_pb2.FEEDBACK_TYPE_AGENT, "chat": feedback_pb2.FEEDBACK_TYPE_CHAT}
ZONES = ("UTC", "America/Los_Angeles", "Asia/Kolkata")


@dataclass
class Env:
    stub: analytics_pb2_grpc.AnalyticsServiceAsyncStub
    db: asyncpg.Connection
    now: datetime
    token_for: Callable[..., str]

    def auth(self, tenant: str) -> tuple[tuple[str, str], ...]:
        return bearer_metadata(self.token_for(tenant, "analyst"))


def _ts(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


async def _wait(predicate: Callable[[], Awaitable[bool]], what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.25)


async def _submit(env_settings: Settings, port: int, token_for: Callable[..., str]) -> None:
    rnd = random.Random(2026)
    batches: dict[tuple[str, str], list[feedback_pb2.SubmitFeedbackRequest]] = defaultdict(list)
    for i in range(TOTAL):
        key = (rnd.choice(TENANTS), f"user-{rnd.randint(1, 15)}")
        batches[key].append(random_submission(rnd, i))
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = feedback_pb2_grpc.FeedbackServiceStub(channel)
        for (tenant, user), requests in batches.items():
            response = await stub.BatchSubmitFeedback(
                feedback_pb2.BatchSubmitFeedbackRequest(requests=requests),
                metadata=bearer_metadata(token_for(tenant, user)),
                timeout=60,
            )
            statuses = {r.status for r in response.results}
            assert statuses == {feedback_pb2.BATCH_ITEM_STATUS_CREATED}, response.results[:3]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def env(settings: Settings, token_for: Callable[..., str]) -> AsyncIterator[Env]:
    await migrate_database(settings)
    servers = Servers()
    dsn = settings.database_url.get_secret_value().replace("+asyncpg", "")  # type: ignore[union-attr]
    db = await asyncpg.connect(dsn)
    try:
        # VADER: a real analyzer that needs no model download, so the labels vary.
        scored = settings.model_copy(update={"sentiment_analyzer": "vader"})
        sentiment = await servers.start(["sentiment"], scored)
        local = settings.with_peers(sentiment=f"127.0.0.1:{sentiment.port}")
        feedback = await servers.start(["feedback"], local)
        await _submit(local, feedback.port, token_for)

        async def released() -> bool:
            pending = await db.fetchval(
                "SELECT count(*) FROM feedback_outbox WHERE tenant_id = ANY($1) "
                "AND sequence IS NULL",
                TENANTS,
            )
            return bool(pending == 0)

        await _wait(released, "the outbox to release every feedback")
        now = datetime.now(UTC)
        ids = [r["id"] for r in await db.fetch(
            "SELECT id FROM feedback WHERE tenant_id = ANY($1) ORDER BY id", TENANTS)]  # fmt: skip
        assert len(ids) == TOTAL
        rnd = random.Random(120)
        await backdate(db, ids, rnd, now, days=120)
        ingest = local.with_peers(feedback=f"127.0.0.1:{feedback.port}")
        analytics = await servers.start(["ingest", "analytics"], ingest)
        client = create_clickhouse_client(settings, database=settings.clickhouse_database)

        # The raw rows become visible a moment before the views' rows: wait for all three.
        counts = """
            SELECT
                (SELECT count() FROM feedback_events WHERE has({t:Array(String)}, tenant_id)),
                (SELECT sum(feedback_count) FROM feedback_hourly
                 WHERE has({t:Array(String)}, tenant_id)),
                (SELECT sum(length(tags)) FROM feedback_events
                 WHERE has({t:Array(String)}, tenant_id)),
                (SELECT sum(feedback_count) FROM feedback_tags_hourly
                 WHERE has({t:Array(String)}, tenant_id))"""

        async def ingested() -> bool:
            result = await asyncio.to_thread(client.query, counts, parameters={"t": TENANTS})
            raw, hourly, tags, tag_rows = result.result_rows[0]
            return bool(raw == hourly == TOTAL and tags == tag_rows)

        await _wait(ingested, "ClickHouse to hold every feedback")
        client.close()
        async with grpc.aio.insecure_channel(f"127.0.0.1:{analytics.port}") as channel:
            yield Env(analytics_pb2_grpc.AnalyticsServiceStub(channel), db, now, token_for)
    finally:
        await servers.stop()
        await db.close()


def _cases(now: datetime) -> list[Case]:
    cases = []
    for tenant in TENANTS:
        for grain in ("day", "week", "month"):
            for tz in ZONES:
                cases.append(Case(tenant, now - timedelta(days=121, minutes=13), now, grain, tz))
                start, end = (
                    now - timedelta(days=80, minutes=-7),
                    now - timedelta(days=20, minutes=3),
                )
                cases.append(Case(tenant, start, end, grain, tz))
    a = TENANTS[0]
    cases += [
        Case(a, now - timedelta(days=100), now, "week", "America/Los_Angeles", "agent"),
        Case(a, now - timedelta(days=100), now, "day", "Asia/Kolkata", "agent", agent_id=7),
        Case(a, now - timedelta(days=60, minutes=5), now, "month", "UTC", "chat"),
        Case(a, now - timedelta(days=3, minutes=41), now - timedelta(hours=5), "hour", "UTC"),
        Case(a, now - timedelta(days=2, minutes=11), now, "hour", "Asia/Kolkata"),
    ]
    return cases


Request = TypeVar("Request", bound=Message)


def _request(case: Case, message: type[Request], **extra: Any) -> Request:
    return message(
        start_time=_ts(case.start),
        end_time=_ts(case.end),
        granularity=GRAINS[case.grain],
        time_zone=case.tz,
        feedback_type=TYPES[case.feedback_type],
        agent_id=case.agent_id,
        **extra,
    )


def _non_empty(series: list[dict[str, object]], key: str) -> list[dict[str, object]]:
    return [p for p in series if p[key]]


async def test_ratings_and_sentiment_equal_postgres(env: Env) -> None:
    for case in _cases(env.now):
        auth = env.auth(case.tenant)
        ratings = await env.stub.GetRatingsAnalytics(
            _request(case, pb.GetRatingsAnalyticsRequest), metadata=auth
        )
        sentiment = await env.stub.GetSentimentAnalytics(
            _request(case, pb.GetSentimentAnalyticsRequest, top_n=5), metadata=auth
        )
        await check_ratings(env.db, case, ratings)
        assert [p.date for p in sentiment.series] == [p.date for p in ratings.series]
        await check_sentiment(env.db, case, sentiment, 5)


async def test_usage_trends_equal_postgres(env: Env) -> None:
    ends = (None, env.now - timedelta(days=30, hours=-5))
    for tenant in TENANTS:
        for tz in ZONES:
            for period, days in (("7d", 7), ("30d", 30), ("90d", 90)):
                for end in ends:
                    request = pb.GetUsageTrendsRequest(period=period, time_zone=tz, top_n=5)
                    if end is not None:
                        request.end_time.CopyFrom(_ts(end))
                    usage = await env.stub.GetUsageTrends(request, metadata=env.auth(tenant))
                    want = await pg_usage(env.db, tenant, tz, end or env.now, days, 5)
                    assert len(usage.series) == days
                    check_usage(usage, want)


async def test_exports_equal_json_and_tenant_walls(env: Env) -> None:
    case = Case(TENANTS[1], env.now - timedelta(days=50), env.now, "week", "America/Los_Angeles")
    owner, stranger = env.auth(TENANTS[1]), env.auth(EMPTY_TENANT)
    ratings = await env.stub.GetRatingsAnalytics(
        _request(case, pb.GetRatingsAnalyticsRequest), metadata=owner
    )
    export = await env.stub.ExportAnalytics(
        _request(case, pb.ExportAnalyticsRequest, view="ratings"), metadata=owner
    )
    lines = export.data.decode().splitlines()
    assert lines[0] == "date,count,avg_rating,rating_sum"
    assert lines[1:] == [
        f"{p.date},{p.count},{p.avg_rating!r},{p.rating_sum}" for p in ratings.series
    ]
    # Recharts-ready JSON: flat points, plain numbers, zero values printed.
    as_json = MessageToDict(
        ratings, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    for point in as_json["series"]:
        assert set(point) == {"date", "count", "avg_rating", "rating_sum"}
        assert all(isinstance(point[k], int | float) for k in ("count", "avg_rating", "rating_sum"))

    # A tenant with no data sees nothing of the others, in every view and export.
    for view, message in (
        ("ratings", pb.GetRatingsAnalyticsRequest),
        ("sentiment", pb.GetSentimentAnalyticsRequest),
    ):
        method = "GetRatingsAnalytics" if view == "ratings" else "GetSentimentAnalytics"
        response = await getattr(env.stub, method)(_request(case, message), metadata=stranger)
        for point in response.series:
            values = MessageToDict(point, preserving_proto_field_name=True)
            assert set(values) <= {"date"}, values
        body = await env.stub.ExportAnalytics(
            _request(case, pb.ExportAnalyticsRequest, view=view), metadata=stranger
        )
        assert all(
            set(row.split(",")[1:]) <= {"0", "0.0"} for row in body.data.decode().splitlines()[1:]
        )
    usage = await env.stub.GetUsageTrends(pb.GetUsageTrendsRequest(period="90d"), metadata=stranger)
    assert usage.total_submissions == 0 and not usage.top_agents and not usage.top_executions
    body = await env.stub.ExportAnalytics(
        pb.ExportAnalyticsRequest(view="usage-trends", period="90d"), metadata=stranger
    )
    assert all(row.endswith(",0,0") for row in body.data.decode().splitlines()[1:])
