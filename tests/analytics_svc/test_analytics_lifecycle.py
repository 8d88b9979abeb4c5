"""Done-when test of issue O (change and retract): feedback is changed and retracted
through gRPC while the whole pipeline runs (FeedbackService + SentimentService ->
PostgreSQL + outbox -> IngestService -> ClickHouse -> AnalyticsService); once ingestion
has caught up, every number of every view equals the same aggregate over the live
PostgreSQL rows, get/list/export never show a retracted row, the tenant's data version
moved, and another tenant's answers did not change at all.

As in test_analytics_pipeline.py, feedback is back-dated over 30 days before the ingest
worker first reads it (test only), so that changes land in many different rollup hours.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import asyncpg
import grpc
import pytest
import pytest_asyncio
from analytics_pipeline import (
    COMMENTS,
    TAGS,
    Case,
    Servers,
    backdate,
    check_ratings,
    check_sentiment,
    check_usage,
    pg_usage_range,
    random_submission,
)
from google.protobuf import field_mask_pb2
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from feedback_svc.migrations import migrate_database
from feedbackmesh.analytics.v1 import analytics_pb2 as pb
from feedbackmesh.analytics.v1 import analytics_pb2_grpc
from feedbackmesh.feedback.v1 import feedback_pb2, feedback_pb2_grpc
from mesh_runtime.auth import DEFAULT_USER_SCOPES, SCOPE_FEEDBACK_ADMIN, bearer_metadata
from mesh_runtime.settings import Settings

RUN = uuid.uuid4().hex[:6]
TENANTS = [f"life-a-{RUN}", f"life-b-{RUN}"]
BYSTANDER = f"life-c-{RUN}"
TOTAL = 360
USERS = 6
GRAINS = {"hour": pb.GRANULARITY_HOUR, "day": pb.GRANULARITY_DAY, "week": pb.GRANULARITY_WEEK}


@dataclass
class Env:
    feedback: feedback_pb2_grpc.FeedbackServiceAsyncStub
    analytics: analytics_pb2_grpc.AnalyticsServiceAsyncStub
    db: asyncpg.Connection
    now: datetime
    token_for: Callable[..., str]

    def auth(
        self, tenant: str, user: str = "analyst", admin: bool = False
    ) -> tuple[tuple[str, str], ...]:
        scopes = (*DEFAULT_USER_SCOPES, SCOPE_FEEDBACK_ADMIN) if admin else DEFAULT_USER_SCOPES
        return bearer_metadata(self.token_for(tenant, user, scopes))


def _ts(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


async def _wait(
    predicate: Callable[[], Awaitable[bool]], what: str, timeout: float = 120.0
) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)


async def _outbox_empty(db: asyncpg.Connection) -> bool:
    # Acknowledged outbox rows are deleted, and acks come only once ClickHouse holds
    # the rows: an empty outbox means ingestion has caught up.
    left = await db.fetchval(
        "SELECT count(*) FROM feedback_outbox WHERE tenant_id = ANY($1)", [*TENANTS, BYSTANDER]
    )
    return bool(left == 0)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def env(settings: Settings, token_for: Callable[..., str]) -> AsyncIterator[Env]:
    await migrate_database(settings)
    servers = Servers()
    dsn = settings.database_url.get_secret_value().replace("+asyncpg", "")  # type: ignore[union-attr]
    db = await asyncpg.connect(dsn)
    try:
        scored = settings.model_copy(update={"sentiment_analyzer": "vader"})
        sentiment = await servers.start(["sentiment"], scored)
        local = settings.with_peers(sentiment=f"127.0.0.1:{sentiment.port}")
        feedback = await servers.start(["feedback"], local)
        rnd = random.Random(22)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{feedback.port}") as channel:
            stub = feedback_pb2_grpc.FeedbackServiceStub(channel)
            for i in range(TOTAL):
                tenant = rnd.choice([*TENANTS, BYSTANDER])
                user = f"user-{rnd.randint(1, USERS)}"
                await stub.SubmitFeedback(
                    random_submission(rnd, i), metadata=bearer_metadata(token_for(tenant, user))
                )

        async def released() -> bool:
            left = await db.fetchval(
                "SELECT count(*) FROM feedback_outbox WHERE tenant_id = ANY($1) "
                "AND sequence IS NULL",
                [*TENANTS, BYSTANDER],
            )
            return bool(left == 0)

        await _wait(released, "the outbox to release every feedback")
        now = datetime.now(UTC)
        ids = [r["id"] for r in await db.fetch(
            "SELECT id FROM feedback WHERE tenant_id = ANY($1) ORDER BY id",
            [*TENANTS, BYSTANDER])]  # fmt: skip
        await backdate(db, ids, rnd, now, days=30)
        ingest = local.with_peers(feedback=f"127.0.0.1:{feedback.port}")
        analytics = await servers.start(["ingest", "analytics"], ingest)
        await _wait(lambda: _outbox_empty(db), "ingestion of every submission")
        async with (
            grpc.aio.insecure_channel(f"127.0.0.1:{feedback.port}") as feedback_channel,
            grpc.aio.insecure_channel(f"127.0.0.1:{analytics.port}") as analytics_channel,
        ):
            yield Env(
                feedback_pb2_grpc.FeedbackServiceStub(feedback_channel),
                analytics_pb2_grpc.AnalyticsServiceStub(analytics_channel),
                db,
                now,
                token_for,
            )
    finally:
        await servers.stop()
        await db.close()


def _cases(tenant: str, now: datetime) -> list[Case]:
    return [
        Case(tenant, now - timedelta(days=31, minutes=7), now, grain, tz)
        for grain in GRAINS
        for tz in ("UTC", "Asia/Kolkata", "America/Los_Angeles")
    ] + [Case(tenant, now - timedelta(days=31), now, "day", "UTC", "agent")]


Request = TypeVar("Request", bound=Message)


def _request(case: Case, message: type[Request]) -> Request:
    types = {"": 0, "agent": feedback_pb2.FEEDBACK_TYPE_AGENT}
    ranked = {} if message is pb.GetRatingsAnalyticsRequest else {"top_n": 5}
    return message(
        start_time=_ts(case.start),
        end_time=_ts(case.end),
        granularity=GRAINS[case.grain],
        time_zone=case.tz,
        feedback_type=types[case.feedback_type],
        **ranked,
    )


async def _answers(env: Env, case: Case) -> list[dict[str, object]]:
    auth = env.auth(case.tenant)
    answers: list[Message] = [
        await env.analytics.GetRatingsAnalytics(
            _request(case, pb.GetRatingsAnalyticsRequest), metadata=auth
        ),
        await env.analytics.GetSentimentAnalytics(
            _request(case, pb.GetSentimentAnalyticsRequest), metadata=auth
        ),
        await env.analytics.GetUsageTrends(_request(case, pb.GetUsageTrendsRequest), metadata=auth),
    ]
    out = []
    for answer in answers:
        values = MessageToDict(answer)
        values.pop("dataVersion", None)
        out.append(values)
    return out


async def _check_all(env: Env, tenant: str) -> None:
    for case in _cases(tenant, env.now):
        auth = env.auth(tenant)
        ratings = await env.analytics.GetRatingsAnalytics(
            _request(case, pb.GetRatingsAnalyticsRequest), metadata=auth
        )
        await check_ratings(env.db, case, ratings)
        sentiment = await env.analytics.GetSentimentAnalytics(
            _request(case, pb.GetSentimentAnalyticsRequest), metadata=auth
        )
        await check_sentiment(env.db, case, sentiment, 5)
        usage = await env.analytics.GetUsageTrends(
            _request(case, pb.GetUsageTrendsRequest), metadata=auth
        )
        check_usage(usage, await pg_usage_range(env.db, case, 5))


async def _version(env: Env, tenant: str) -> int:
    answer = await env.analytics.GetRatingsAnalytics(
        pb.GetRatingsAnalyticsRequest(), metadata=env.auth(tenant)
    )
    return answer.data_version


def _mask(*paths: str) -> field_mask_pb2.FieldMask:
    return field_mask_pb2.FieldMask(paths=list(paths))


async def _random_changes(env: Env, rnd: random.Random, count: int) -> set[int]:
    """``count`` changes and retractions by the authors (some twice to the same feedback);
    returns the retracted ids."""
    rows = await env.db.fetch(
        "SELECT id, tenant_id, user_id FROM feedback WHERE tenant_id = ANY($1) ORDER BY id",
        TENANTS,
    )
    targets = rnd.sample(list(rows), count)
    targets += rnd.sample(targets, count // 4)  # changed again, maybe after its retraction
    retracted: set[int] = set()
    for row in targets:
        auth = env.auth(row["tenant_id"], row["user_id"])
        if row["id"] in retracted:
            with pytest.raises(grpc.aio.AioRpcError) as gone:
                await env.feedback.DeleteFeedback(
                    feedback_pb2.DeleteFeedbackRequest(id=row["id"]), metadata=auth
                )
            assert gone.value.code() == grpc.StatusCode.NOT_FOUND
            continue
        if rnd.random() < 0.3:
            await env.feedback.DeleteFeedback(
                feedback_pb2.DeleteFeedbackRequest(id=row["id"]), metadata=auth
            )
            retracted.add(row["id"])
            continue
        paths = rnd.sample(["rating", "comment", "tags", "metadata"], rnd.randint(1, 4))
        change = feedback_pb2.Feedback(
            id=row["id"],
            rating=rnd.randint(1, 5),
            comment=rnd.choice([c for c in COMMENTS if c] + [""]),
            tags=rnd.sample(TAGS, rnd.randint(0, 3)),
        )
        change.metadata.update({"edited": True, "n": rnd.randint(1, 9)})
        updated = await env.feedback.UpdateFeedback(
            feedback_pb2.UpdateFeedbackRequest(feedback=change, update_mask=_mask(*paths)),
            metadata=auth,
        )
        assert (
            updated.revision >= 2
            and updated.updated_at.ToDatetime() >= updated.created_at.ToDatetime()
        )
        if "rating" in paths:
            assert updated.rating == change.rating
    return retracted


async def test_changes_and_retractions_keep_every_view_exact(env: Env) -> None:
    before = {BYSTANDER: [await _answers(env, case) for case in _cases(BYSTANDER, env.now)]}
    versions = {tenant: await _version(env, tenant) for tenant in [*TENANTS, BYSTANDER]}
    retracted = await _random_changes(env, random.Random(7), 70)
    assert retracted
    await _wait(lambda: _outbox_empty(env.db), "ingestion of every change")
    for tenant in TENANTS:
        await _check_all(env, tenant)
        assert await _version(env, tenant) > versions[tenant]
    # Another tenant's numbers never changed, nor its data version.
    assert [await _answers(env, case) for case in _cases(BYSTANDER, env.now)] == before[BYSTANDER]
    assert await _version(env, BYSTANDER) == versions[BYSTANDER]
    await _check_all(env, BYSTANDER)

    # A retracted feedback is gone from get, list and export.
    for tenant in TENANTS:
        auth = env.auth(tenant, admin=True)
        listed: set[int] = set()
        token = ""
        while True:
            page = await env.feedback.ListFeedback(
                feedback_pb2.ListFeedbackRequest(page_size=500, page_token=token), metadata=auth
            )
            listed |= {f.id for f in page.feedback}
            token = page.next_page_token
            if not token:
                break
        assert listed and not listed & retracted
        exported = b"".join(
            [chunk.data async for chunk in env.feedback.ExportFeedback(
                feedback_pb2.ExportFeedbackRequest(format="jsonl"), metadata=auth)]
        ).decode()  # fmt: skip
        assert len(exported.splitlines()) == len(listed) + 1
    some = sorted(retracted)[0]
    tenant = await env.db.fetchval("SELECT tenant_id FROM feedback_retracted WHERE id = $1", some)
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await env.feedback.GetFeedback(
            feedback_pb2.GetFeedbackRequest(id=some), metadata=env.auth(tenant, admin=True)
        )
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND


async def test_etag_permissions_and_input_boundary(env: Env) -> None:
    row = await env.db.fetchrow(
        "SELECT id, tenant_id, user_id FROM feedback WHERE tenant_id = $1 ORDER BY id LIMIT 1",
        TENANTS[0],
    )
    assert row is not None
    author = env.auth(row["tenant_id"], row["user_id"])
    current = await env.feedback.GetFeedback(
        feedback_pb2.GetFeedbackRequest(id=row["id"]), metadata=author
    )
    assert current.etag and current.revision >= 1

    async def refused(code: grpc.StatusCode, change: feedback_pb2.Feedback, *paths: str,
                      auth: tuple[tuple[str, str], ...] = author) -> None:  # fmt: skip
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await env.feedback.UpdateFeedback(
                feedback_pb2.UpdateFeedbackRequest(feedback=change, update_mask=_mask(*paths)),
                metadata=auth,
            )
        assert error.value.code() == code, error.value.details()
        after = await env.feedback.GetFeedback(
            feedback_pb2.GetFeedbackRequest(id=row["id"]), metadata=author
        )
        assert after == current  # nothing changed

    fid = row["id"]
    await refused(
        grpc.StatusCode.INVALID_ARGUMENT, feedback_pb2.Feedback(id=fid, rating=9), "rating"
    )
    await refused(
        grpc.StatusCode.INVALID_ARGUMENT, feedback_pb2.Feedback(id=fid, agent_id=3), "agent_id"
    )
    await refused(
        grpc.StatusCode.INVALID_ARGUMENT, feedback_pb2.Feedback(id=fid, tags=["no spaces"]), "tags"
    )
    await refused(
        grpc.StatusCode.INVALID_ARGUMENT, feedback_pb2.Feedback(id=fid, comment="a\x00b"), "comment"
    )
    await refused(grpc.StatusCode.INVALID_ARGUMENT, feedback_pb2.Feedback(id=fid), "color")
    other = env.auth(row["tenant_id"], "someone-else")
    await refused(
        grpc.StatusCode.PERMISSION_DENIED,
        feedback_pb2.Feedback(id=fid, rating=2),
        "rating",
        auth=other,
    )
    stranger = env.auth(BYSTANDER, row["user_id"], admin=True)
    await refused(
        grpc.StatusCode.NOT_FOUND, feedback_pb2.Feedback(id=fid, rating=2), "rating", auth=stranger
    )
    # The admin scope may change another user's feedback; the old etag is then stale.
    admin = env.auth(row["tenant_id"], "moderator", admin=True)
    changed = await env.feedback.UpdateFeedback(
        feedback_pb2.UpdateFeedbackRequest(
            feedback=feedback_pb2.Feedback(id=fid, rating=1, etag=current.etag),
            update_mask=_mask("rating"),
        ),
        metadata=admin,
    )
    assert changed.revision == current.revision + 1 and changed.etag != current.etag
    assert changed.user_id == current.user_id and changed.rating == 1
    current = changed
    stale = feedback_pb2.Feedback(id=fid, rating=5, etag=f'W/"{changed.revision - 1}"')
    await refused(grpc.StatusCode.ABORTED, stale, "rating")
    with pytest.raises(grpc.aio.AioRpcError) as aborted:
        await env.feedback.DeleteFeedback(
            feedback_pb2.DeleteFeedbackRequest(id=fid, etag=stale.etag), metadata=author
        )
    assert aborted.value.code() == grpc.StatusCode.ABORTED
    await _wait(lambda: _outbox_empty(env.db), "ingestion of the change")
    await _check_all(env, TENANTS[0])
