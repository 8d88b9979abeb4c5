"""IngestEvents (direct, idempotent), poison handling, scopes, and the journal replay
that completes a view which missed an insert (a crash between raw part and view part)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf import timestamp_pb2
from ingest_harness import Mesh
from prometheus_client import REGISTRY

from feedbackmesh.feedback.v1 import feedback_pb2
from feedbackmesh.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from feedbackmesh.sentiment.v1 import sentiment_pb2
from ingest_svc import outbox_client as outbox_module
from ingest_svc.events import convert
from ingest_svc.repository import ClickHouseRepository, JournalEntry, new_token
from ingest_svc.writer import IngestStats, Writer
from mesh_runtime.auth import DEFAULT_USER_SCOPES

# Positive, neutral, negative: enum values 1..3.
_LABELS = [
    sentiment_pb2.SENTIMENT_LABEL_POSITIVE,
    sentiment_pb2.SENTIMENT_LABEL_NEUTRAL,
    sentiment_pb2.SENTIMENT_LABEL_NEGATIVE,
]


def make_events(tenant: str, count: int, first_id: int) -> list[feedback_pb2.FeedbackEvent]:
    base = datetime(2026, 3, 1, 10, tzinfo=UTC)
    events = []
    for i in range(count):
        created = timestamp_pb2.Timestamp()
        created.FromDatetime(base + timedelta(minutes=37 * i))
        events.append(
            feedback_pb2.FeedbackEvent(
                feedback_id=first_id + i, tenant_id=tenant, user_id=f"u{i % 5}",
                feedback_type=feedback_pb2.FEEDBACK_TYPE_AGENT, agent_id=1 + i % 3,
                rating=1 + i % 5, sentiment=_LABELS[i % 3], sentiment_score=0.25,
                has_comment=True, tags=["x", f"t{i % 2}"], created_at=created,
                released_at=created,
            )
        )  # fmt: skip
    return events


def first_id() -> int:
    return uuid.uuid4().int % 10**12 + 10**12  # never collides with PostgreSQL's ids


async def test_ingest_events_is_idempotent_and_validates(mesh: Mesh) -> None:
    await mesh.start_ingest()
    stub = ingest_pb2_grpc.IngestServiceStub(mesh.ingest_channel)
    tenant, start = f"direct-{uuid.uuid4().hex[:6]}", first_id()
    events = make_events(tenant, 300, start)
    reply = await stub.IngestEvents(
        ingest_pb2.IngestEventsRequest(events=events[:200]), metadata=mesh.metadata()
    )
    assert (reply.inserted_count, reply.duplicate_count) == (200, 0)
    reply = await stub.IngestEvents(
        ingest_pb2.IngestEventsRequest(events=events[100:] + events[100:110]),
        metadata=mesh.metadata(),
    )
    assert (reply.inserted_count, reply.duplicate_count) == (100, 110)
    count = mesh.clickhouse.query(
        f"SELECT count(), uniqExact(feedback_id) FROM `{mesh.settings.clickhouse_database}`"
        ".feedback_events WHERE tenant_id = {t:String}",
        parameters={"t": tenant},
    ).result_rows
    assert count == [(300, 300)]

    bad = make_events(tenant, 2, first_id())
    bad[1].rating = 9
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await stub.IngestEvents(ingest_pb2.IngestEventsRequest(events=bad),
                                metadata=mesh.metadata())  # fmt: skip
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "events[1]" in (error.value.details() or "")

    # Users may read the status, never ingest.
    user = mesh.metadata(tenant, "someone", DEFAULT_USER_SCOPES)
    await stub.GetIngestStatus(ingest_pb2.GetIngestStatusRequest(), metadata=user)
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await stub.IngestEvents(ingest_pb2.IngestEventsRequest(events=events[:1]), metadata=user)
    assert error.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_poison_is_separated_not_blocking() -> None:
    events = make_events("p", 4, 1)
    events[1].rating = 0
    events[2].feedback_type = 17  # type: ignore[assignment]  # an unknown value, on purpose
    events[3].feedback_id = events[0].feedback_id  # a duplicate inside one batch
    rows, poisoned, _ = convert(events)
    assert rows.ids == [1]
    assert sorted(p.event.feedback_id for p in poisoned) == [2, 3]


async def test_poison_events_are_parked_and_the_rest_ingested(mesh: Mesh) -> None:
    await mesh.start_ingest()
    assert mesh.worker is not None
    tenant = f"poison-{uuid.uuid4().hex[:6]}"
    events = make_events(tenant, 5, first_id())
    events[2].rating = 0
    before = REGISTRY.get_sample_value("ingest_poison_events_total") or 0.0
    result = await mesh.worker._writer.write(events, "outbox")
    assert (result.inserted, result.poisoned) == (4, 1)
    assert REGISTRY.get_sample_value("ingest_poison_events_total") == before + 1
    parked = mesh.clickhouse.query(
        f"SELECT feedback_id, error FROM `{mesh.settings.clickhouse_database}`.ingest_poison "
        "WHERE tenant_id = {t:String}",
        parameters={"t": tenant},
    ).result_rows
    assert [r[0] for r in parked] == [events[2].feedback_id] and "rating" in parked[0][1]
    # (last_error names the poison too, until the next successful batch clears it:
    # with other events flowing that is a race, so the metric and the table are checked.)


async def test_journal_replay_completes_a_view_that_missed_the_insert(mesh: Mesh) -> None:
    """Simulates a crash after the raw part committed but before the hourly view's part:
    the unfinished journal entry is replayed verbatim with its token; the raw table drops
    it as a duplicate, the view (deduplicating on its own) gets the missing rows."""
    await mesh.start_ingest()
    await mesh.stop_ingest()  # migrated database, no worker
    db = mesh.settings.clickhouse_database
    tenant = f"replay-{uuid.uuid4().hex[:6]}"
    repo = ClickHouseRepository(mesh.settings)
    entry = JournalEntry.from_events(new_token(), make_events(tenant, 50, first_id()))
    await asyncio.to_thread(repo.journal_begin, entry)
    await asyncio.to_thread(mesh.clickhouse.command, f"DETACH TABLE `{db}`.feedback_hourly_mv")
    await asyncio.to_thread(repo.insert_events, entry.rows, entry.token)
    await asyncio.to_thread(mesh.clickhouse.command, f"ATTACH TABLE `{db}`.feedback_hourly_mv")

    def totals() -> tuple[int, int, int]:
        q = mesh.clickhouse.query
        p = {"t": tenant}
        where = "WHERE tenant_id = {t:String}"
        raw = q(f"SELECT count() FROM `{db}`.feedback_events {where}", parameters=p)
        hourly = q(f"SELECT sum(feedback_count) FROM `{db}`.feedback_hourly {where}", parameters=p)
        tags = q(f"SELECT sum(feedback_count) FROM `{db}`.feedback_tags_hourly {where}",
                 parameters=p)  # fmt: skip
        return raw.result_rows[0][0], hourly.result_rows[0][0], tags.result_rows[0][0]

    assert await asyncio.to_thread(totals) == (50, 0, 100)
    writer = Writer(repo, IngestStats())
    await writer.write([], "outbox")  # the first write replays unfinished entries first
    assert await asyncio.to_thread(totals) == (50, 50, 100)
    assert await asyncio.to_thread(repo.unfinished_journal) == []
    await asyncio.to_thread(repo.close)


@pytest.mark.parametrize("spread", [1, 1_000_000], ids=["dense ids", "scattered ids"])
async def test_anti_join_finds_exactly_the_present_ids(mesh: Mesh, spread: int) -> None:
    """Both look-ups (one id range for a dense batch, IN lists for scattered ids) return
    the batch's ids already in ClickHouse and nothing else, even with rows of other
    batches inside the range."""
    await mesh.start_ingest()
    await mesh.stop_ingest()
    tenant, start = f"anti-{uuid.uuid4().hex[:6]}", first_id()
    events = make_events(tenant, 60, start)
    for i, event in enumerate(events):
        event.feedback_id = start + i * spread
    repo = ClickHouseRepository(mesh.settings)
    writer = Writer(repo, IngestStats())
    # Present: every third event; absent but in the id range: the others.
    await writer.write(events[::3], "direct")
    rows, _, _ = convert(events)
    found = await asyncio.to_thread(repo.existing_revisions, rows, [])
    assert found == {e.feedback_id: e.revision for e in events[::3]}
    assert await asyncio.to_thread(repo.existing_revisions, convert(events[1::3])[0], []) == {}
    await asyncio.to_thread(repo.close)


async def test_done_rides_with_the_next_begin_and_close_records_it(mesh: Mesh) -> None:
    """The last entry's 'done' is written with the next 'begin' (or on close); until
    then a restart replays the landed entry, and the replay changes no count."""
    await mesh.start_ingest()
    await mesh.stop_ingest()
    db = mesh.settings.clickhouse_database
    tenant, start = f"done-{uuid.uuid4().hex[:6]}", first_id()
    events = make_events(tenant, 30, start)
    repo = ClickHouseRepository(mesh.settings)
    writer = Writer(repo, IngestStats())
    await writer.write(events[:10], "direct")
    first = await asyncio.to_thread(repo.unfinished_journal)
    assert [len(entry.rows) for entry in first] == [10]  # its 'done' is not written yet
    await writer.write(events[10:20], "direct")
    second = await asyncio.to_thread(repo.unfinished_journal)
    assert [len(e.rows) for e in second] == [10] and second[0].token != first[0].token

    # A "crash" now: a fresh writer replays the landed entry; nothing is counted twice.
    restarted = Writer(ClickHouseRepository(mesh.settings), IngestStats())
    result = await restarted.write(events[20:], "direct")
    assert (result.inserted, result.duplicates) == (10, 0)
    await restarted.close()
    assert await asyncio.to_thread(repo.unfinished_journal) == []
    hourly = mesh.clickhouse.query(
        f"SELECT sum(feedback_count) FROM `{db}`.feedback_hourly WHERE tenant_id = {{t:String}}",
        parameters={"t": tenant},
    ).result_rows
    raw = mesh.clickhouse.query(
        f"SELECT count() FROM `{db}`.feedback_events WHERE tenant_id = {{t:String}}",
        parameters={"t": tenant},
    ).result_rows
    assert (raw[0][0], hourly[0][0]) == (30, 30)
    await asyncio.to_thread(repo.close)


async def test_pull_spans_pages_in_sequence_order(
    mesh: Mesh, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pull larger than FeedbackService's page limit is made of several calls, contiguous
    and in sequence order, stopping at a short page."""
    await mesh.start_ingest()
    await mesh.stop_ingest()  # no worker: the outbox keeps what is submitted
    await mesh.submit(30)
    assert mesh.worker is not None
    outbox = mesh.worker.outbox
    deadline = asyncio.get_running_loop().time() + 20
    while len(whole := await outbox.pull(10_000)) < 30:  # released in the background
        assert asyncio.get_running_loop().time() < deadline, len(whole)
        await asyncio.sleep(0.1)
    monkeypatch.setattr(outbox_module, "PAGE_LIMIT", 7)
    paged = await outbox.pull(25)
    assert [e.sequence for e in paged] == [e.sequence for e in whole[:25]]
    rest = await outbox.pull(10_000, paged[-1].sequence)
    assert [e.sequence for e in rest] == [e.sequence for e in whole[25:]]
