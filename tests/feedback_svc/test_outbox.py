"""The outbox: release only when complete, sentiment outage recovery, pull/ack/status."""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import Callable
from typing import Any

import asyncpg
import grpc
import pytest
from feedback_helpers import (
    FeedbackEnv,
    Subscriber,
    pull_all,
    start_fake_sentiment,
    start_feedback,
    wait_for,
)
from pydantic import SecretStr

from feedbackmesh.feedback.v1 import feedback_pb2
from mesh_runtime.net import free_port
from mesh_runtime.settings import Settings

GENERAL = feedback_pb2.FEEDBACK_TYPE_GENERAL


async def submit_released(env: FeedbackEnv, count: int) -> None:
    """Submits ``count`` general feedback (ratings 1.., every other one with a comment)
    and waits until all of them are released."""
    for n in range(count):
        await env.submit(feedback_type=GENERAL, rating=n + 1, comment="good" if n % 2 else "")

    async def released() -> bool:
        return len(await pull_all(env, env.tenant)) == count

    await wait_for(released)


async def test_sentiment_down_then_back_releases_each_once(
    serve: Any,
    settings: Settings,
    token_for: Callable[..., str],
    subscriber: Subscriber,
    db: asyncpg.Connection,
) -> None:
    port = free_port()  # nothing listens here yet: the sentiment service is down
    local = settings.with_peers(sentiment=f"127.0.0.1:{port}").model_copy(
        update={"sentiment_timeout_seconds": 0.3}
    )
    env = await start_feedback(serve, local, token_for, None)
    submitted = await asyncio.gather(
        *(env.submit(feedback_type=GENERAL, rating=n % 5 + 1, comment=f"great {n}")
          for n in range(30))
    )  # fmt: skip
    submitted.append(await env.submit(feedback_type=GENERAL, rating=3))  # no comment
    assert all(
        s.feedback.sentiment_status == feedback_pb2.SENTIMENT_STATUS_PENDING for s in submitted[:30]
    )
    assert await db.fetchval(
        "SELECT count(*) FROM feedback WHERE tenant_id = $1 AND sentiment_status = 'pending'",
        env.tenant,
    ) == 30  # fmt: skip
    await asyncio.sleep(0.5)
    # Only the complete feedback (no comment) is released and published meanwhile.
    assert len(await pull_all(env, env.tenant)) == 1
    assert len(subscriber.for_tenant(env.tenant)) == 1
    status = await env.stub.GetOutboxStatus(
        feedback_pb2.GetOutboxStatusRequest(), metadata=env.internal_md()
    )
    assert status.pending_sentiment >= 30
    assert status.HasField("oldest_unacknowledged_created_at")

    sentiment_server, servicer = await start_fake_sentiment(settings, port)
    try:

        async def all_published() -> bool:
            return len(subscriber.for_tenant(env.tenant)) >= 31

        await wait_for(all_published, timeout=20)
        await asyncio.sleep(0.5)
        rows = await db.fetch(
            "SELECT sentiment_status, sentiment FROM feedback WHERE tenant_id = $1", env.tenant
        )
        assert sorted(r["sentiment_status"] for r in rows) == ["no_comment"] + ["scored"] * 30
        assert {r["sentiment"] for r in rows} == {None, "positive"}
        messages = subscriber.for_tenant(env.tenant)
        assert len(messages) == 31
        assert len({m["feedback_id"] for m in messages}) == 31
        assert all(m.get("sentiment") == "SENTIMENT_LABEL_POSITIVE" for m in messages[1:])
        events = await pull_all(env, env.tenant)
        assert len(events) == 31 and len({e.feedback_id for e in events}) == 31
        assert servicer.texts >= 30
    finally:
        await sentiment_server.stop(grace=0.5)
        await env.channel.close()


async def test_pull_ack_and_status(env: FeedbackEnv, db: asyncpg.Connection) -> None:
    await submit_released(env, 5)
    events = await pull_all(env, env.tenant)
    sequences = [e.sequence for e in events]
    assert sequences == sorted(sequences)
    assert [e.rating for e in events] == [1, 2, 3, 4, 5]
    assert [e.has_comment for e in events] == [False, True, False, True, False]
    # after_sequence is a cursor: only later events come back.
    later = await env.stub.PullOutboxEvents(
        feedback_pb2.PullOutboxEventsRequest(after_sequence=sequences[2], max_events=10_000),
        metadata=env.internal_md(),
    )
    assert [e.sequence for e in later.events if e.tenant_id == env.tenant] == sequences[3:]
    limited = await env.stub.PullOutboxEvents(
        feedback_pb2.PullOutboxEventsRequest(max_events=1), metadata=env.internal_md()
    )
    assert len(limited.events) == 1

    ack = feedback_pb2.AckOutboxEventsRequest(sequences=[*sequences[:3], 10**15])
    first = await env.stub.AckOutboxEvents(ack, metadata=env.internal_md())
    again = await env.stub.AckOutboxEvents(ack, metadata=env.internal_md())
    assert (first.acknowledged_count, again.acknowledged_count) == (3, 0)
    assert [e.sequence for e in await pull_all(env, env.tenant)] == sequences[3:]
    status = await env.stub.GetOutboxStatus(
        feedback_pb2.GetOutboxStatusRequest(), metadata=env.internal_md()
    )
    # Acknowledged rows are gone; the counter row agrees exactly with what is left.
    left = await db.fetchrow(
        "SELECT count(*) FILTER (WHERE sequence = ANY($1::bigint[])) AS acked_rows,"
        " count(*) FILTER (WHERE sequence IS NOT NULL) AS backlog FROM feedback_outbox",
        sequences[:3],
    )
    assert left["acked_rows"] == 0
    assert status.released_total - status.acknowledged_total == status.backlog
    assert status.backlog == left["backlog"] >= 2


async def test_events_released_without_payload_are_built_from_feedback(
    env: FeedbackEnv, db: asyncpg.Connection
) -> None:
    """Rows released before migration 0003 (no payload) pull exactly as stored ones."""
    await submit_released(env, 4)
    stored = await pull_all(env, env.tenant)
    assert (
        await db.fetchval(
            "SELECT count(*) FROM feedback_outbox WHERE tenant_id = $1 AND payload IS NOT NULL",
            env.tenant,
        )
        == 4
    )
    legacy = [stored[0].sequence, stored[2].sequence]
    await db.execute(
        "UPDATE feedback_outbox SET payload = NULL WHERE sequence = ANY($1::bigint[])", legacy
    )
    assert await pull_all(env, env.tenant) == stored


async def test_internal_rpcs_need_the_internal_scope(env: FeedbackEnv) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await env.stub.PullOutboxEvents(feedback_pb2.PullOutboxEventsRequest(), metadata=env.md())
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    read_only = env.md(scopes=("feedback:read",))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await env.stub.SubmitFeedback(feedback_pb2.SubmitFeedbackRequest(), metadata=read_only)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_domain_metrics_are_exported(env: FeedbackEnv) -> None:
    await env.submit(feedback_type=GENERAL, rating=4, comment="good")
    url = f"http://127.0.0.1:{env.server.metrics_port}/metrics"
    body = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=5).read().decode())
    assert f'feedback_submissions_total{{feedback_type="general",tenant_id="{env.tenant}"}}' in body
    assert 'feedback_rating_distribution_bucket{le="4.0"}' in body
    assert f'feedback_sentiment_score_count{{tenant_id="{env.tenant}"}}' in body
    assert "feedback_outbox_backlog" in body and "feedback_pending_sentiment" in body
    assert "feedback_publish_failures_total" in body


async def test_migrations_are_idempotent(settings: Settings, db: asyncpg.Connection) -> None:
    from feedback_svc.migrations import migrate_database

    await migrate_database(settings)
    assert await db.fetchval("SELECT version_num FROM feedback_alembic_version") == "0005"


async def test_redis_down_never_fails_a_submission(
    serve: Any, settings: Settings, token_for: Callable[..., str], db: asyncpg.Connection
) -> None:
    from feedback_svc import metrics

    sentiment_server, servicer = await start_fake_sentiment(settings)
    local = settings.with_peers(sentiment=f"127.0.0.1:{sentiment_server.port}").model_copy(
        # model_copy does not validate: pass the SecretStr. Nothing listens there.
        update={"redis_url": SecretStr(f"redis://127.0.0.1:{free_port()}/0")}
    )
    env = await start_feedback(serve, local, token_for, servicer)
    failures_before = metrics.PUBLISH_FAILURES._value.get()
    try:
        for n in range(3):
            submitted = await env.submit(feedback_type=GENERAL, rating=n + 1, comment="good")
            assert submitted.feedback.sentiment_status == feedback_pb2.SENTIMENT_STATUS_SCORED

        async def failures_counted() -> bool:
            return bool(metrics.PUBLISH_FAILURES._value.get() >= failures_before + 3)

        await wait_for(failures_counted)
        # The outbox still holds every event for the ingest side.
        assert len(await pull_all(env, env.tenant)) == 3
    finally:
        await env.channel.close()
        await sentiment_server.stop(grace=0.5)


async def test_two_replicas_release_and_rescore_each_event_once(
    serve: Any,
    settings: Settings,
    token_for: Callable[..., str],
    subscriber: Subscriber,
    db: asyncpg.Connection,
) -> None:
    port = free_port()  # sentiment down first: every comment goes pending
    local = settings.with_peers(sentiment=f"127.0.0.1:{port}").model_copy(
        update={"sentiment_timeout_seconds": 0.3}
    )
    first = await start_feedback(serve, local, token_for, None)
    second = await start_feedback(serve, local, token_for, None)
    second.tenant = first.tenant
    await asyncio.gather(
        *(replica.submit(feedback_type=GENERAL, rating=n % 5 + 1,
                         comment="good" if n % 2 else "")
          for n in range(60) for replica in (first, second))
    )  # fmt: skip
    sentiment_server, _ = await start_fake_sentiment(settings, port)
    try:

        async def all_published() -> bool:
            return len(subscriber.for_tenant(first.tenant)) >= 120

        await wait_for(all_published, timeout=20)
        await asyncio.sleep(0.5)
        messages = subscriber.for_tenant(first.tenant)
        assert len(messages) == 120
        assert len({m["feedback_id"] for m in messages}) == 120
        events = await pull_all(first, first.tenant)
        assert len(events) == 120
        sequences = [e.sequence for e in events]
        assert len(set(sequences)) == 120 and sequences == sorted(sequences)
        pending = await db.fetchval(
            "SELECT count(*) FROM feedback WHERE tenant_id = $1 AND sentiment_status = 'pending'",
            first.tenant,
        )
        assert pending == 0
    finally:
        await sentiment_server.stop(grace=0.5)
        for replica in (first, second):
            await replica.channel.close()


async def test_sentiment_stopped_midway_recovers(
    serve: Any,
    settings: Settings,
    token_for: Callable[..., str],
    subscriber: Subscriber,
    db: asyncpg.Connection,
) -> None:
    port = free_port()
    sentiment_server, _ = await start_fake_sentiment(settings, port)
    local = settings.with_peers(sentiment=f"127.0.0.1:{port}").model_copy(
        update={"sentiment_timeout_seconds": 0.3}
    )
    env = await start_feedback(serve, local, token_for, None)
    try:
        before = await env.submit(feedback_type=GENERAL, rating=5, comment="great")
        assert before.feedback.sentiment_status == feedback_pb2.SENTIMENT_STATUS_SCORED
        await sentiment_server.stop(grace=0.1)  # the sentiment service goes away
        during = [
            await env.submit(feedback_type=GENERAL, rating=1, comment=f"bad {n}") for n in range(5)
        ]
        assert all(
            d.feedback.sentiment_status == feedback_pb2.SENTIMENT_STATUS_PENDING for d in during
        )
        await asyncio.sleep(1.5)
        sentiment_server, _ = await start_fake_sentiment(settings, port)  # and comes back

        async def all_published() -> bool:
            return len(subscriber.for_tenant(env.tenant)) >= 6

        await wait_for(all_published, timeout=20)
        await asyncio.sleep(0.3)
        messages = subscriber.for_tenant(env.tenant)
        assert len(messages) == 6
        assert sorted(str(m.get("sentiment")) for m in messages) == [
            *["SENTIMENT_LABEL_NEGATIVE"] * 5,
            "SENTIMENT_LABEL_POSITIVE",
        ]
    finally:
        await sentiment_server.stop(grace=0.1)
        await env.channel.close()
