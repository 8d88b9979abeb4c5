"""Submission through a real gRPC server into real PostgreSQL, with Redis and the outbox."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
import grpc
import pytest
from feedback_helpers import (
    FeedbackEnv,
    Subscriber,
    label_for,
    pull_all,
    start_feedback,
    wait_for,
)
from google.protobuf import struct_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from feedbackmesh.feedback.v1 import feedback_pb2
from feedbackmesh.sentiment.v1 import sentiment_pb2
from mesh_runtime.settings import Settings

TYPES = {
    "execution": (feedback_pb2.FEEDBACK_TYPE_EXECUTION, "execution_id"),
    "agent": (feedback_pb2.FEEDBACK_TYPE_AGENT, "agent_id"),
    "chat": (feedback_pb2.FEEDBACK_TYPE_CHAT, "chat_session_id"),
    "general": (feedback_pb2.FEEDBACK_TYPE_GENERAL, None),
}
LABELS = {
    sentiment_pb2.SENTIMENT_LABEL_POSITIVE: "positive",
    sentiment_pb2.SENTIMENT_LABEL_NEUTRAL: "neutral",
    sentiment_pb2.SENTIMENT_LABEL_NEGATIVE: "negative",
}
COMMENTS = ["", "great agent, good answers", "terrible and bad", "it was fine"]


def violations_of(error: grpc.aio.AioRpcError) -> list[str]:
    status = rpc_status.from_call(error)
    assert status is not None
    fields = []
    for detail in status.details:
        bad_request = error_details_pb2.BadRequest()
        if detail.Unpack(bad_request):
            fields += [v.field for v in bad_request.field_violations]
    return fields


async def test_150_feedback_rows_events_and_messages(
    env: FeedbackEnv, subscriber: Subscriber, db: asyncpg.Connection
) -> None:
    tenants = [f"{env.tenant}-{i}" for i in range(3)]
    sent: dict[str, dict[str, Any]] = {}
    requests = []
    for n in range(150):
        kind = list(TYPES)[n % 4]
        enum, target = TYPES[kind]
        fields: dict[str, Any] = {
            "request_id": f"req-{n}",
            "feedback_type": enum,
            "rating": n % 5 + 1,
            "comment": COMMENTS[n % 4 if n % 3 else 0],
            "tags": ["Team:A", "team:a", f"n{n % 3}"],
        }
        if target == "chat_session_id":
            fields[target] = f"chat-{n}"
        elif target is not None:
            fields[target] = 1000 + n
        tenant = tenants[n % 3]
        sent[f"{tenant}/req-{n}"] = {**fields, "tenant": tenant, "kind": kind}
        requests.append(env.submit(tenant, **fields))
    responses = await asyncio.gather(*requests)
    assert not any(r.duplicate for r in responses)

    rows = await db.fetch("SELECT * FROM feedback WHERE tenant_id = ANY($1)", tenants)
    assert len(rows) == 150
    for row in rows:
        want = sent[f"{row['tenant_id']}/{row['request_id']}"]
        assert row["feedback_type"] == want["kind"]
        assert row["rating"] == want["rating"]
        assert row["user_id"] == "user-1"
        assert row["comment"] == (want["comment"] or None)
        assert row["tags"] == ["team:a", f"n{int(row['request_id'][4:]) % 3}"]
        for column in ("execution_id", "agent_id", "chat_session_id"):
            assert row[column] == want.get(column)
        if want["comment"]:
            label, score = label_for(want["comment"])
            assert row["sentiment_status"] == "scored"
            assert row["sentiment"] == LABELS[label]
            assert row["sentiment_score"] == score
        else:
            assert row["sentiment_status"] == "no_comment"
            assert row["sentiment"] is None and row["sentiment_score"] is None

    ids = {row["id"] for row in rows}

    async def all_published() -> bool:
        return sum(len(subscriber.for_tenant(t)) for t in tenants) >= 150

    await wait_for(all_published)
    await asyncio.sleep(0.3)  # any extra (duplicate) message would arrive by now
    messages = [m for t in tenants for m in subscriber.for_tenant(t)]
    assert len(messages) == 150
    assert {int(m["feedback_id"]) for m in messages} == ids

    events = [e for t in tenants for e in await pull_all(env, t)]
    assert len(events) == 150
    assert {e.feedback_id for e in events} == ids
    sequences = sorted(e.sequence for e in events)
    assert len(set(sequences)) == 150
    outbox = await db.fetchval(
        "SELECT count(*) FROM feedback_outbox WHERE tenant_id = ANY($1)", tenants
    )
    assert outbox == 150


async def test_concurrent_retries_leave_one_row(env: FeedbackEnv, db: asyncpg.Connection) -> None:
    fields: dict[str, Any] = {
        "request_id": "retry-me",
        "feedback_type": feedback_pb2.FEEDBACK_TYPE_AGENT,
        "agent_id": 7,
        "rating": 4,
        "comment": "good",
        "tags": ["x"],
    }
    responses = await asyncio.gather(*(env.submit(**fields) for _ in range(20)))
    assert len({r.feedback.id for r in responses}) == 1
    assert sum(not r.duplicate for r in responses) == 1
    count = await db.fetchval("SELECT count(*) FROM feedback WHERE tenant_id = $1", env.tenant)
    assert count == 1
    outbox = await db.fetchval(
        "SELECT count(*) FROM feedback_outbox WHERE tenant_id = $1", env.tenant
    )
    assert outbox == 1

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await env.submit(**{**fields, "rating": 5})
    assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS
    # Another user of the same tenant reusing the id is a different payload too.
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await env.stub.SubmitFeedback(
            feedback_pb2.SubmitFeedbackRequest(**fields), metadata=env.md(user="user-2")
        )
    assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS
    # The same id in another tenant is independent.
    other = await env.submit(f"{env.tenant}-other", **fields)
    assert not other.duplicate


def _metadata(size: int) -> struct_pb2.Struct:
    value = struct_pb2.Struct()
    value.update({"blob": "x" * size})
    return value


EXEC = feedback_pb2.FEEDBACK_TYPE_EXECUTION
BAD_INPUTS: list[tuple[str, dict[str, Any], str]] = [
    ("missing type", {"rating": 3}, "feedback_type"),
    ("unknown type", {"feedback_type": 42, "rating": 3}, "feedback_type"),
    ("execution without id", {"feedback_type": EXEC, "rating": 3}, "execution_id"),
    ("negative execution id", {"feedback_type": EXEC, "execution_id": -5, "rating": 3},
     "execution_id"),
    ("agent with execution id", {"feedback_type": feedback_pb2.FEEDBACK_TYPE_AGENT,
     "agent_id": 1, "execution_id": 2, "rating": 3}, "execution_id"),
    ("chat without session", {"feedback_type": feedback_pb2.FEEDBACK_TYPE_CHAT, "rating": 3},
     "chat_session_id"),
    ("general with agent", {"feedback_type": feedback_pb2.FEEDBACK_TYPE_GENERAL, "agent_id": 9,
     "rating": 3}, "agent_id"),
    ("rating 0", {"feedback_type": EXEC, "execution_id": 1, "rating": 0}, "rating"),
    ("rating 6", {"feedback_type": EXEC, "execution_id": 1, "rating": 6}, "rating"),
    ("comment 4001", {"feedback_type": EXEC, "execution_id": 1, "rating": 3,
     "comment": "y" * 4001}, "comment"),
    ("comment NUL", {"feedback_type": EXEC, "execution_id": 1, "rating": 3,
     "comment": "a\x00b"}, "comment"),
    ("21 tags", {"feedback_type": EXEC, "execution_id": 1, "rating": 3,
     "tags": [f"t{i}" for i in range(21)]}, "tags"),
    ("bad tag chars", {"feedback_type": EXEC, "execution_id": 1, "rating": 3,
     "tags": ["ok", "ok2", "x", "no spaces"]}, "tags[3]"),
    ("tag too long", {"feedback_type": EXEC, "execution_id": 1, "rating": 3,
     "tags": ["a" * 65]}, "tags[0]"),
    ("9 KiB metadata", {"feedback_type": EXEC, "execution_id": 1, "rating": 3,
     "metadata": _metadata(9 * 1024)}, "metadata"),
    ("empty request id", {"request_id": "", "feedback_type": EXEC, "execution_id": 1,
     "rating": 3}, "request_id"),
    ("long request id", {"request_id": "r" * 129, "feedback_type": EXEC, "execution_id": 1,
     "rating": 3}, "request_id"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "fields", "field"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
async def test_bad_input_is_refused_and_changes_nothing(
    env: FeedbackEnv, db: asyncpg.Connection, case: str, fields: dict[str, Any], field: str
) -> None:
    before = await db.fetchval("SELECT count(*) FROM feedback")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await env.submit(**fields)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in violations_of(caught.value)
    assert await db.fetchval("SELECT count(*) FROM feedback") == before
    assert await db.fetchval("SELECT count(*) FROM feedback WHERE tenant_id = $1", env.tenant) == 0


async def test_comment_is_trimmed_and_metadata_kept(env: FeedbackEnv) -> None:
    metadata = struct_pb2.Struct()
    metadata.update({"source": "web", "n": 3, "nested": {"ok": True}})
    response = await env.submit(
        feedback_type=feedback_pb2.FEEDBACK_TYPE_CHAT,
        chat_session_id="s-1",
        rating=5,
        comment="  " + "z" * 4000 + "  ",
        metadata=metadata,
    )
    feedback = response.feedback
    assert feedback.comment == "z" * 4000
    assert feedback.sentiment_status == feedback_pb2.SENTIMENT_STATUS_SCORED
    assert dict(feedback.metadata) == {"source": "web", "n": 3, "nested": {"ok": True}}
    assert feedback.tenant_id == env.tenant


async def test_batch_submit_per_item_results(
    env: FeedbackEnv, subscriber: Subscriber, db: asyncpg.Connection
) -> None:
    await env.submit(request_id="seen", feedback_type=EXEC, execution_id=1, rating=2)
    calls_before = env.sentiment.calls if env.sentiment else 0
    items = [
        feedback_pb2.SubmitFeedbackRequest(
            request_id=f"b-{i}", feedback_type=EXEC, execution_id=i + 1, rating=i % 5 + 1,
            comment="good stuff" if i % 2 else "",
        )
        for i in range(300)
    ]  # fmt: skip
    items[3].rating = 9  # invalid
    items[4].tags.append("BAD TAG")  # invalid, relative field name
    items[5].request_id = "seen"  # duplicate of an earlier submission (same payload)
    items[5].rating, items[5].comment, items[5].execution_id = 2, "", 1
    items[6].request_id = "seen"  # conflict: different payload
    items[7].CopyFrom(items[8])  # same request twice in one batch: the second is a duplicate
    response = await env.stub.BatchSubmitFeedback(
        feedback_pb2.BatchSubmitFeedbackRequest(requests=items), metadata=env.md()
    )
    statuses = [r.status for r in response.results]
    assert [r.index for r in response.results] == list(range(300))
    assert statuses[3] == feedback_pb2.BATCH_ITEM_STATUS_INVALID
    assert [v.field for v in response.results[3].field_violations] == ["rating"]
    assert [v.field for v in response.results[4].field_violations] == ["tags[0]"]
    assert statuses[5] == feedback_pb2.BATCH_ITEM_STATUS_DUPLICATE
    assert statuses[6] == feedback_pb2.BATCH_ITEM_STATUS_CONFLICT
    assert statuses[7] == feedback_pb2.BATCH_ITEM_STATUS_CREATED
    assert statuses[8] == feedback_pb2.BATCH_ITEM_STATUS_DUPLICATE
    assert response.results[7].feedback.id == response.results[8].feedback.id
    assert (response.created_count, response.duplicate_count) == (295, 2)
    assert (response.invalid_count, response.conflict_count) == (2, 1)
    assert env.sentiment is not None and env.sentiment.calls == calls_before + 1
    count = await db.fetchval("SELECT count(*) FROM feedback WHERE tenant_id = $1", env.tenant)
    assert count == 296

    async def published() -> bool:
        return len(subscriber.for_tenant(env.tenant)) >= 296

    await wait_for(published)


async def test_batch_limits(env: FeedbackEnv) -> None:
    item = feedback_pb2.SubmitFeedbackRequest(request_id=uuid.uuid4().hex)
    for size in (0, 501):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await env.stub.BatchSubmitFeedback(
                feedback_pb2.BatchSubmitFeedbackRequest(requests=[item] * size), metadata=env.md()
            )
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert violations_of(caught.value) == ["requests"]


async def test_scored_by_the_real_sentiment_service(
    serve: Any, settings: Settings, token_for: Callable[..., str]
) -> None:
    # The lexicon analyzer: real, deterministic, and needs no trained model artefact.
    vader = settings.model_copy(update={"sentiment_analyzer": "vader"})
    sentiment = await serve(["sentiment"], settings=vader, metrics=False)
    local = settings.with_peers(sentiment=f"127.0.0.1:{sentiment.port}")
    env = await start_feedback(serve, local, token_for, None)
    try:
        good = await env.submit(
            feedback_type=EXEC,
            execution_id=1,
            rating=5,
            comment="Great answer, thank you so much, it was perfect!",
        )
        bad = await env.submit(feedback_type=EXEC, execution_id=2, rating=1,
                               comment="Terrible, useless and wrong. I hate it.")  # fmt: skip
    finally:
        await env.channel.close()
    for submitted in (good, bad):
        assert submitted.feedback.sentiment_status == feedback_pb2.SENTIMENT_STATUS_SCORED
    assert good.feedback.sentiment_score > bad.feedback.sentiment_score


async def test_concurrent_submissions_share_inserts_across_tenants(
    env: FeedbackEnv, db: asyncpg.Connection
) -> None:
    """Concurrent unary submissions are inserted together: the same request_id in two
    tenants is two rows, a twin inside the batch is one row plus a duplicate, and a
    different payload under a used request_id is refused, all in one burst."""
    tenants = [f"{env.tenant}-x", f"{env.tenant}-y"]
    agent: dict[str, Any] = {"feedback_type": feedback_pb2.FEEDBACK_TYPE_AGENT, "agent_id": 9}
    calls = [env.submit(t, request_id="shared", **agent, rating=3) for t in tenants]
    calls += [env.submit(tenants[0], request_id=f"r{n}", **agent, rating=n % 5 + 1)
              for n in range(30)]  # fmt: skip
    calls += [env.submit(tenants[1], request_id="r1", **agent, rating=2) for _ in range(2)]
    responses = await asyncio.gather(*calls, return_exceptions=True)
    assert not any(isinstance(r, BaseException) for r in responses), responses
    submitted = [r for r in responses if not isinstance(r, BaseException)]
    shared = submitted[:2]
    assert all(not r.duplicate for r in shared)
    assert shared[0].feedback.tenant_id == tenants[0] and shared[1].feedback.tenant_id == tenants[1]
    assert shared[0].feedback.id != shared[1].feedback.id
    twins = submitted[32:]
    assert sorted(r.duplicate for r in twins) == [False, True]
    assert twins[0].feedback.id == twins[1].feedback.id
    rows = await db.fetch(
        "SELECT tenant_id, request_id, rating FROM feedback WHERE tenant_id = ANY($1)", tenants
    )
    assert len(rows) == 2 + 30 + 1
    by_key = {(r["tenant_id"], r["request_id"]): r["rating"] for r in rows}
    assert by_key[(tenants[1], "r1")] == 2 and by_key[(tenants[0], "r1")] == 2
    for n, response in enumerate(responses[2:32]):
        assert not isinstance(response, BaseException)
        assert response.feedback.rating == n % 5 + 1 == by_key[(tenants[0], f"r{n}")]
