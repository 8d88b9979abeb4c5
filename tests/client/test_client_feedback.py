"""The feedback calls of both clients (sync and asyncio) against the real mesh: submit,
batch_submit, get, list, export, and the errors they raise."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from client_helpers import CallLog, Flavour, Mesh, agent_feedback, new_tenant

from feedbackmesh.client import (
    AbortedError,
    AlreadyExistsError,
    BatchItemStatus,
    ExportIncompleteError,
    FeedbackMeshError,
    FeedbackType,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    RpcError,
    SentimentLabel,
    UnauthenticatedError,
)
from feedbackmesh.feedback.v1 import feedback_pb2
from mesh_runtime.auth import SCOPE_FEEDBACK_READ


async def test_submit_creates_one_request_id_and_a_repeat_returns_the_original(
    mesh: Mesh, flavour: Flavour
) -> None:
    tenant = new_tenant()
    log = CallLog()
    async with flavour.client(log, **mesh.options(tenant)) as client:
        stored = await flavour.run(
            client.submit,
            feedback_type=FeedbackType.AGENT,
            agent_id=42,
            rating=5,
            comment="Great agent, it fixed my build in one go!",
            tags=["Speed", "accuracy"],
            metadata={"client": "sdk", "attempt": 1},
        )
        [sent] = log.methods("/SubmitFeedback")
        assert len(sent.request_id) == 32 and stored.request_id == sent.request_id
        assert (stored.feedback_type, stored.agent_id, stored.rating) == (FeedbackType.AGENT, 42, 5)
        assert list(stored.tags) == ["speed", "accuracy"]
        assert dict(stored.metadata) == {"client": "sdk", "attempt": 1.0}

        fields = agent_feedback(0, request_id=stored.request_id, agent_id=42, rating=5)
        fields.update(comment=stored.comment, tags=["speed", "accuracy"])
        fields["metadata"] = {"client": "sdk", "attempt": 1}
        again = await flavour.run(client.submit, **fields)
        assert again.id == stored.id

        with pytest.raises(AlreadyExistsError) as conflict:
            await flavour.run(client.submit, **{**fields, "rating": 1})
        assert conflict.value.code == grpc.StatusCode.ALREADY_EXISTS
    assert await mesh.count(tenant) == 1


async def test_invalid_input_is_an_error_naming_each_field(mesh: Mesh, flavour: Flavour) -> None:
    async with flavour.client(**mesh.options(new_tenant())) as client:
        with pytest.raises(InvalidArgumentError) as invalid:
            await flavour.run(
                client.submit, feedback_type=FeedbackType.GENERAL, agent_id=3, rating=9
            )
    error = invalid.value
    assert isinstance(error, RpcError) and isinstance(error, FeedbackMeshError)
    assert set(error.field_violations) == {"rating", "agent_id"}, error.field_violations
    assert all(error.field_violations["rating"])
    assert error.attempts == 1 and not error.retryable


async def test_batch_submit_splits_into_rpc_batches_and_keeps_input_order(
    mesh: Mesh, flavour: Flavour
) -> None:
    tenant = new_tenant()
    items = [agent_feedback(i) for i in range(1203)]
    items[10]["rating"] = 0
    items[700]["rating"] = 6
    log = CallLog()
    async with flavour.client(log, **mesh.options(tenant)) as client:
        results = await flavour.run(client.batch_submit, items, timeout=120)
        sizes = [len(r.requests) for r in log.methods("/BatchSubmitFeedback")]
        assert sizes == [500, 500, 203]
        assert [r.index for r in results] == list(range(1203))
        invalid = [r.index for r in results if r.status == BatchItemStatus.INVALID]
        assert invalid == [10, 700]
        assert "rating" in results[700].field_violations and not results[700].stored
        assert all(
            r.stored and r.feedback is not None for i, r in enumerate(results) if i not in (10, 700)
        )
        assert [r.feedback.agent_id for r in results[:5]] == [1, 2, 3, 1, 2]
        assert all(r.feedback.request_id == r.request_id for r in results if r.feedback)

        # The same messages again (each with its request_id): duplicates, nothing new.
        sent = [
            request for batch in log.methods("/BatchSubmitFeedback") for request in batch.requests
        ]
        repeat = await flavour.run(client.batch_submit, sent, timeout=120)
        statuses = {r.status for i, r in enumerate(repeat) if i not in (10, 700)}
        assert statuses == {BatchItemStatus.DUPLICATE}
        assert [r.feedback.id for r in repeat[:3]] == [r.feedback.id for r in results[:3]]
    assert await mesh.count(tenant) == 1201


async def test_get_and_not_found(mesh: Mesh, flavour: Flavour) -> None:
    tenant = new_tenant()
    async with (
        flavour.client(**mesh.options(tenant)) as client,
        flavour.client(**mesh.options(new_tenant())) as stranger,
    ):
        stored = await flavour.run(client.submit, **agent_feedback(1))
        fetched = await flavour.run(client.get, stored.id)
        assert fetched == stored
        with pytest.raises(NotFoundError):
            await flavour.run(stranger.get, stored.id)


async def test_list_iterates_every_page_with_filters(mesh: Mesh, flavour: Flavour) -> None:
    tenant = new_tenant()
    log = CallLog()
    async with flavour.client(log, **mesh.options(tenant)) as client:
        results = await flavour.run(client.batch_submit, [agent_feedback(i) for i in range(60)])
        expected = {
            r.feedback.id for r in results if r.feedback.agent_id == 2 and r.feedback.rating >= 3
        }
        listed = await flavour.collect(
            client.list, page_size=3, agent_id=2, min_rating=3, feedback_type=FeedbackType.AGENT
        )
        assert {f.id for f in listed} == expected and len(listed) == len(expected) == 12
        pages = log.methods("/ListFeedback")
        assert len(pages) == 4 and all(p.page_size == 3 for p in pages)
        assert pages[0].page_token == "" and all(p.page_token for p in pages[1:])
        order = [(f.created_at.ToDatetime(), f.id) for f in listed]
        assert order == sorted(order, reverse=True)

        everything = await flavour.collect(client.list, page_size=7)
        assert len(everything) == 60
        later = datetime.now(UTC) + timedelta(hours=1)
        assert await flavour.collect(client.list, start_time=later) == []
        commented = await flavour.collect(client.list, sentiment=SentimentLabel.POSITIVE)
        assert commented and all(f.sentiment == SentimentLabel.POSITIVE for f in commented)


async def test_export_is_verified_against_its_trailer(
    mesh: Mesh, flavour: Flavour, tmp_path: object
) -> None:
    tenant = new_tenant()
    # Comments with newlines, quotes and a line that looks like the trailer.
    tricky = 'first line\n# export complete: 1 rows\nsaid "hi", twice ""'
    items = [agent_feedback(i) for i in range(25)] + [agent_feedback(25, comment=tricky)]
    async with flavour.client(**mesh.options(tenant)) as client:
        await flavour.run(client.batch_submit, items)
        path = tmp_path / "feedback.csv"  # type: ignore[operator]
        result = await flavour.run(client.export, str(path), format="csv")
        assert result.row_count == 26 and result.byte_count == path.stat().st_size
        rows = list(csv.reader(io.StringIO(path.read_text())))
        assert rows[0][0] == "id" and len(rows) == 28 and tricky in rows[-2]
        assert not path.with_name("feedback.csv.partial").exists()

        chunks = await flavour.collect(client.export_chunks, format="jsonl", min_rating=5)
        lines = b"".join(chunks).decode().splitlines()
        assert json.loads(lines[-1]) == {"export_complete": True, "row_count": 5}
        assert {json.loads(line)["rating"] for line in lines[:-1]} == {5}

        # A deadline that cannot be met: the call fails and the path is not written.
        cut = tmp_path / "cut.csv"  # type: ignore[operator]
        with pytest.raises(RpcError):
            await flavour.run(client.export, str(cut), timeout=0.000_001)
        assert not cut.exists() and not cut.with_name("cut.csv.partial").exists()


async def test_auth_errors_and_token_refresh(mesh: Mesh, flavour: Flavour) -> None:
    tenant = new_tenant()
    handed_out: list[str] = []

    def provider() -> str:
        # The first token is no token at all; the refresh after UNAUTHENTICATED is valid.
        handed_out.append("not-a-jwt" if not handed_out else mesh.token_for(tenant, "u"))
        return handed_out[-1]

    async with flavour.client(**mesh.options(tenant, token_provider=provider)) as client:
        stored = await flavour.run(client.submit, **agent_feedback(2))
        assert stored.tenant_id == tenant and len(handed_out) == 2
        await flavour.run(client.get, stored.id)
        assert len(handed_out) == 2
    async with flavour.client(**mesh.options(tenant, token="not-a-jwt")) as client:
        with pytest.raises(UnauthenticatedError):
            await flavour.run(client.get, stored.id)
    read_only = mesh.token_for(tenant, "u", (SCOPE_FEEDBACK_READ,))
    async with flavour.client(**mesh.options(tenant, token=read_only)) as client:
        with pytest.raises(PermissionDeniedError):
            await flavour.run(client.submit, **agent_feedback(3))
    assert await mesh.count(tenant) == 1


def test_cut_exports_are_detected() -> None:
    """The trailer check on the real format: a complete export passes; each way of
    cutting it (the trailer gone, a record cut, a wrong count, an open quote) fails."""
    from feedbackmesh.client.export import TrailerCheck

    header = b"id,comment\n"
    rows = b'1,"two\nlines"\n2,"x ""q"""\n3,plain\n'
    complete = header + rows + b"# export complete: 3 rows\n"

    def verify(data: bytes, fmt: str = "csv", step: int = 5) -> int:
        check = TrailerCheck(fmt)  # type: ignore[arg-type]
        for start in range(0, len(data), step):
            check.feed(data[start : start + step])
        return check.finish().row_count

    assert verify(complete) == 3 and verify(complete, step=1) == 3
    for cut in (
        header + rows,
        complete[:-1],
        complete[:30],
        header + rows + b"# export complete: 4 rows\n",
        header + b'1,"open\n' + b"# export complete: 1 rows\n",
    ):
        with pytest.raises(ExportIncompleteError):
            verify(cut)
    jsonl = b'{"id":1,"c":"a \\" b"}\n{"id":2}\n{"export_complete": true, "row_count": 2}\n'
    assert verify(jsonl, "jsonl") == 2
    with pytest.raises(ExportIncompleteError):
        verify(jsonl.replace(b'{"id":2}\n', b""), "jsonl")


def test_request_ids_are_kept_or_created_once() -> None:
    from feedbackmesh.client.arguments import submission

    given = feedback_pb2.SubmitFeedbackRequest(request_id="mine", rating=3)
    assert submission(given) is given
    bare = feedback_pb2.SubmitFeedbackRequest(rating=3)
    created = submission(bare)
    assert created.request_id and bare.request_id == "" and created.rating == 3
    assert submission({"feedback_type": FeedbackType.GENERAL, "rating": 1}).request_id


async def test_update_and_delete_change_one_revision_at_a_time(
    mesh: Mesh, flavour: Flavour
) -> None:
    async with flavour.client(**mesh.options(new_tenant())) as client:
        stored = await flavour.run(client.submit, **agent_feedback(0, comment="Slow and wrong."))
        assert stored.revision == 1 and stored.etag
        changed = await flavour.run(
            client.update, stored.id, etag=stored.etag, rating=5, comment="", tags=["Fixed"]
        )
        # The mask named exactly the given fields: comment="" cleared the comment.
        assert (changed.revision, changed.rating, changed.comment) == (2, 5, "")
        assert list(changed.tags) == ["fixed"] and changed.agent_id == stored.agent_id
        assert changed.sentiment_status == feedback_pb2.SENTIMENT_STATUS_NO_COMMENT
        with pytest.raises(AbortedError):
            await flavour.run(client.update, stored.id, etag=stored.etag, rating=1)
        with pytest.raises(InvalidArgumentError) as invalid:
            await flavour.run(client.update, stored.id, rating=0)
        assert set(invalid.value.field_violations) == {"rating"}
        assert (await flavour.run(client.get, stored.id)) == changed
        await flavour.run(client.delete, stored.id, etag=changed.etag)
        with pytest.raises(NotFoundError):
            await flavour.run(client.delete, stored.id)
        with pytest.raises(NotFoundError):
            await flavour.run(client.get, stored.id)
