"""Done-when test of issue J: data versions and the answer cache are exact.

A seeded generator interleaves submissions (FeedbackService -> outbox -> IngestService),
ingestion and queries of every view from several tenants, concurrently; ingest and
analytics are restarted on the way, with feedback submitted and back-dated while ingest
is down (late rows for old buckets). Afterwards every answer collected, cached or not,
is compared with the same aggregate over PostgreSQL restricted to the rows ClickHouse
holds at the answer's data version (each row records the version it landed with). While
the data is settled, a tenant's repeated question is a cache hit, and writes to one
tenant leave every other tenant's version and answers unchanged.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import grpc
import pytest_asyncio
from analytics_pipeline import (
    Case,
    check_ratings,
    check_sentiment,
    check_usage,
    pg_usage_range,
    random_submission,
)
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from prometheus_client import REGISTRY

from analytics_svc.buckets import local_midnight
from feedback_svc.migrations import migrate_database
from feedbackmesh.analytics.v1 import analytics_pb2 as pb
from feedbackmesh.analytics.v1 import analytics_pb2_grpc
from feedbackmesh.feedback.v1 import feedback_pb2, feedback_pb2_grpc
from mesh_app.local import LocalMesh
from mesh_runtime.auth import bearer_metadata
from mesh_runtime.data_versions import DataVersionKeys, decode_state
from mesh_runtime.resources import create_clickhouse_client, create_redis
from mesh_runtime.server import MeshServer
from mesh_runtime.settings import Settings

RUN = uuid.uuid4().hex[:6]
TENANTS = [f"ver-{i}-{RUN}" for i in range(4)]
GRAINS = {"hour": pb.GRANULARITY_HOUR, "day": pb.GRANULARITY_DAY, "week": pb.GRANULARITY_WEEK}
ZONES = ("UTC", "America/Los_Angeles", "Asia/Kolkata")
TYPES = {"": 0, "agent": feedback_pb2.FEEDBACK_TYPE_AGENT, "chat": feedback_pb2.FEEDBACK_TYPE_CHAT}
VIEWS = ("ratings", "sentiment", "usage")
TOP_N = 5
FAR = timedelta(days=400)


@dataclass(frozen=True)
class Question:
    """One request: the view, its shape, and how the range is given."""

    view: str
    grain: str
    tz: str
    feedback_type: str
    range_kind: str  # "now" (defaults), "period" (7d) or "explicit"


@dataclass(frozen=True)
class Answer:
    tenant: str
    question: Question
    response: Any


@dataclass
class World:
    settings: Settings
    mesh: LocalMesh
    db: asyncpg.Connection
    feedback: feedback_pb2_grpc.FeedbackServiceAsyncStub
    token_for: Callable[..., str]
    started: datetime
    ingest: MeshServer | None = None
    analytics: MeshServer | None = None
    analytics_channel: grpc.aio.Channel | None = None
    # A second analytics replica: every replica states the same versions.
    replica: analytics_pb2_grpc.AnalyticsServiceAsyncStub | None = None
    answers: list[Answer] = field(default_factory=list)
    submitted: int = 0

    def stub(self) -> analytics_pb2_grpc.AnalyticsServiceAsyncStub:
        assert self.analytics_channel is not None
        return analytics_pb2_grpc.AnalyticsServiceStub(self.analytics_channel)

    async def start_ingest(self) -> None:
        self.ingest = await self.mesh.start(["ingest"], self.settings)

    async def stop_ingest(self) -> None:
        assert self.ingest is not None
        await self.ingest.stop(grace=2.0, delay=0)
        self.ingest = None

    async def start_analytics(self) -> None:
        self.analytics = await self.mesh.start(["analytics"], self.settings)
        self.analytics_channel = grpc.aio.insecure_channel(f"127.0.0.1:{self.analytics.port}")

    async def stop_analytics(self) -> None:
        assert self.analytics is not None and self.analytics_channel is not None
        await self.analytics_channel.close()
        await self.analytics.stop(grace=1.0, delay=0)
        self.analytics = None

    async def submit(self, rnd: random.Random, tenant: str, count: int) -> list[int]:
        requests = [random_submission(rnd, self.submitted + i) for i in range(count)]
        for request in requests:
            request.request_id = f"{RUN}-{request.request_id}"
        self.submitted += count
        user = f"user-{rnd.randint(1, 6)}"
        reply = await self.feedback.BatchSubmitFeedback(
            feedback_pb2.BatchSubmitFeedbackRequest(requests=requests),
            metadata=bearer_metadata(self.token_for(tenant, user)),
            timeout=60,
        )
        assert reply.created_count == count, reply
        return [r.feedback.id for r in reply.results]

    async def ask(self, tenant: str, question: Question, replica: bool = False) -> Any:
        shape: dict[str, Any] = {
            "granularity": GRAINS[question.grain],
            "time_zone": question.tz,
            "feedback_type": TYPES[question.feedback_type],
        }
        if question.range_kind == "period":
            shape["period"] = "7d"
        elif question.range_kind == "explicit":
            shape["start_time"] = _ts(self.started - timedelta(days=2))
            shape["end_time"] = _ts(self.started + timedelta(days=1))
        metadata = bearer_metadata(self.token_for(tenant, "analyst"))
        stub = self.replica if replica and self.replica is not None else self.stub()
        response: Message
        if question.view == "ratings":
            ratings = pb.GetRatingsAnalyticsRequest(**shape)
            response = await stub.GetRatingsAnalytics(ratings, metadata=metadata)
        elif question.view == "sentiment":
            sentiment = pb.GetSentimentAnalyticsRequest(**shape, top_n=TOP_N)
            response = await stub.GetSentimentAnalytics(sentiment, metadata=metadata)
        else:
            usage = pb.GetUsageTrendsRequest(**shape, top_n=TOP_N)
            response = await stub.GetUsageTrends(usage, metadata=metadata)
        self.answers.append(Answer(tenant, question, response))
        return response

    async def pg_count(self, tenants: list[str]) -> int:
        return int(
            await self.db.fetchval(
                "SELECT count(*) FROM feedback WHERE tenant_id = ANY($1)", tenants
            )
        )

    async def wait_ingested(self, timeout: float = 90.0) -> None:
        """Until ClickHouse holds every feedback, no tenant's rows are landing, and the
        writer holds its lease (so answers are cached)."""
        client = create_clickhouse_client(self.settings, database=self.settings.clickhouse_database)
        sql = "SELECT count() FROM feedback_events WHERE has({t:Array(String)}, tenant_id)"
        keys = DataVersionKeys(self.settings)
        redis = create_redis(self.settings)
        deadline = time.monotonic() + timeout
        try:
            while True:
                want = await self.pg_count(TENANTS)
                result = await asyncio.to_thread(client.query, sql, parameters={"t": TENANTS})
                lease, *states = await redis.mget(keys.lease, *map(keys.tenant, TENANTS))
                settled = all(decode_state(s).settled for s in states)
                if result.result_rows[0][0] == want and lease is not None and settled:
                    break
                assert time.monotonic() < deadline, "ClickHouse did not catch up"
                await asyncio.sleep(0.2)
        finally:
            client.close()
            await redis.aclose()


def _ts(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def _hits() -> float:
    return sum(
        REGISTRY.get_sample_value("analytics_cache_requests_total", {"view": view, "result": "hit"})
        or 0.0
        for view in VIEWS
    )


@pytest_asyncio.fixture(loop_scope="session")
async def world(settings: Settings, token_for: Callable[..., str]) -> AsyncIterator[World]:
    await migrate_database(settings)
    own = settings.model_copy(
        update={"clickhouse_database": f"versions_{RUN}", "sentiment_analyzer": "vader"}
    )
    mesh = LocalMesh()
    dsn = own.database_url.get_secret_value()  # type: ignore[union-attr]
    db = await asyncpg.connect(dsn)
    try:
        sentiment = await mesh.start(["sentiment"], own)
        own = own.with_peers(sentiment=f"127.0.0.1:{sentiment.port}")
        feedback = await mesh.start(["feedback"], own)
        own = own.with_peers(feedback=f"127.0.0.1:{feedback.port}")
        async with grpc.aio.insecure_channel(f"127.0.0.1:{feedback.port}") as channel:
            world = World(
                own, mesh, db, feedback_pb2_grpc.FeedbackServiceStub(channel), token_for,
                datetime.now(UTC),
            )  # fmt: skip
            await world.start_ingest()
            await world.start_analytics()
            replica = await mesh.start(["analytics"], own)
            async with grpc.aio.insecure_channel(f"127.0.0.1:{replica.port}") as other:
                world.replica = analytics_pb2_grpc.AnalyticsServiceStub(other)
                yield world
            if world.analytics_channel is not None:
                await world.analytics_channel.close()
    finally:
        await mesh.stop()
        await db.close()


def _questions(rnd: random.Random) -> list[Question]:
    questions = []
    for _ in range(6):
        view, kind = rnd.choice(VIEWS), rnd.choice(("now", "period", "explicit"))
        # Whole-day ranges start on a day or hour bucket (a week bucket may start earlier).
        daily = kind == "period" or (view == "usage" and kind == "now")
        grain = rnd.choice(("hour", "day") if daily else tuple(GRAINS))
        questions.append(Question(view, grain, rnd.choice(ZONES), rnd.choice(list(TYPES)), kind))
    return questions


async def _settled_round(world: World, written: set[str], before: dict[str, Any]) -> dict[str, Any]:
    """Everything ingested: each tenant's fixed question twice; the second is a cache hit,
    and tenants not written since ``before`` kept their version and their answer."""
    await world.wait_ingested()
    fixed = Question("ratings", "day", "America/Los_Angeles", "", "now")
    now: dict[str, Any] = {}
    for tenant in TENANTS:
        first = await world.ask(tenant, fixed)
        hits = _hits()
        second = await world.ask(tenant, fixed)
        assert _hits() == hits + 1, "a repeated question on settled data is a cache hit"
        assert second == first
        assert await world.ask(tenant, fixed, replica=True) == first
        now[tenant] = first
        if tenant in before and tenant not in written:
            assert first == before[tenant], f"{tenant} changed without a write"
    for tenant in written & before.keys():
        assert now[tenant].data_version > before[tenant].data_version
    return now


async def test_every_answer_equals_postgres_at_its_data_version(world: World) -> None:
    rnd = random.Random(20261127)
    previous = await _settled_round(world, set(), {})
    for round_number in range(9):
        written = set(rnd.sample(TENANTS, rnd.randint(1, 2)))
        if round_number == 3:
            # Ingest down: feedback waits in the outbox; some of it is back-dated to old
            # buckets (late rows), then a fresh ingest (the versions reloaded) lands it.
            await world.stop_ingest()
            tenant = sorted(written)[0]
            ids = await world.submit(rnd, tenant, 12)
            await _backdate(world, ids, rnd)
            await world.start_ingest()
        elif round_number == 6:
            await world.stop_analytics()
            await world.start_analytics()
        # Submissions and queries race each other and ingestion.
        await asyncio.gather(
            *(world.submit(rnd, tenant, rnd.randint(1, 15)) for tenant in sorted(written)),
            *(world.ask(rnd.choice(TENANTS), q) for q in _questions(rnd)),
        )
        # Repeats while rows may still be landing (hits or misses, all must be exact).
        await asyncio.gather(*(world.ask(rnd.choice(TENANTS), q) for q in _questions(rnd)))
        previous = await _settled_round(world, written, previous)
    await _check_every_answer(world)


async def _backdate(world: World, ids: list[int], rnd: random.Random) -> None:
    """Test only: moves created_at back by 1-20 days before the outbox releases the rows
    to ingest (the pull rebuilds events from the feedback rows once their payload is gone)."""
    deadline = time.monotonic() + 60
    while await world.db.fetchval(
        "SELECT count(*) FROM feedback_outbox WHERE feedback_id = ANY($1) AND sequence IS NULL",
        ids,
    ):
        assert time.monotonic() < deadline, "the outbox did not release"
        await asyncio.sleep(0.1)
    stamps = [world.started - timedelta(days=rnd.uniform(1, 20)) for _ in ids]
    await world.db.execute(
        "UPDATE feedback f SET created_at = v.ts "
        "FROM unnest($1::bigint[], $2::timestamptz[]) AS v(id, ts) WHERE f.id = v.id",
        ids,
        stamps,
    )
    await world.db.execute(
        "UPDATE feedback_outbox SET payload = NULL WHERE feedback_id = ANY($1::bigint[])", ids
    )


async def _check_every_answer(world: World) -> None:
    client = create_clickhouse_client(world.settings, database=world.settings.clickhouse_database)
    try:
        rows = await asyncio.to_thread(
            client.query,
            "SELECT tenant_id, feedback_id, data_version FROM feedback_events "
            "WHERE has({t:Array(String)}, tenant_id)",
            parameters={"t": TENANTS},
        )
    finally:
        client.close()
    landed: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for tenant, feedback_id, version in rows.result_rows:
        landed[tenant].append((int(version), int(feedback_id)))
    seen: dict[str, set[int]] = defaultdict(set)
    for answer in world.answers:
        version = answer.response.data_version
        seen[answer.tenant].add(version)
        ids = tuple(i for v, i in landed[answer.tenant] if v <= version)
        await _check(world.db, answer, ids, world.started)
    for tenant in TENANTS:
        # Every version stated is one ClickHouse recorded (0: before the first insert).
        assert seen[tenant] <= {0} | {v for v, _ in landed[tenant]}, tenant
        assert len(seen[tenant]) > 1, "the tenant's version never moved"


def _window(answer: Answer, started: datetime) -> tuple[datetime, datetime]:
    question = answer.question
    if question.range_kind == "explicit":
        return started - timedelta(days=2), started + timedelta(days=1)
    if question.range_kind == "period" or question.view == "usage":
        # Seven whole local days (usage trends' default too), ending the day it was asked.
        tz = ZoneInfo(question.tz)
        first = date.fromisoformat(answer.response.series[0].date[:10])
        return local_midnight(first, tz), local_midnight(first + timedelta(days=7), tz)
    # Thirty days up to the current bucket's end hold every row of the test (the late
    # ones are at most 20 days old), and the thirty days before hold none.
    return started - FAR, started + FAR


async def _check(
    db: asyncpg.Connection, answer: Answer, ids: tuple[int, ...], started: datetime
) -> None:
    question, response = answer.question, answer.response
    start, end = _window(answer, started)
    case = Case(
        answer.tenant, start, end, question.grain, question.tz, question.feedback_type, ids=ids
    )
    if question.view == "ratings":
        await check_ratings(db, case, response)
    elif question.view == "sentiment":
        await check_sentiment(db, case, response, TOP_N)
    else:
        check_usage(response, await pg_usage_range(db, case, TOP_N))
