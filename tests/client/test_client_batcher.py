"""The background batcher against the real mesh: exact counts under concurrent use, and
what happens when it is full, when items are rejected, when the RPC fails, and after
close."""

from __future__ import annotations

import asyncio
import sys
import threading

import pytest
from client_helpers import Flavour, Mesh, agent_feedback, new_tenant

from feedbackmesh.client import (
    BatcherClosedError,
    BatcherFlushError,
    BatcherFullError,
    FeedbackMeshClient,
    PermissionDeniedError,
)
from mesh_runtime.auth import SCOPE_FEEDBACK_READ

THREADS = 8
PER_THREAD = 300


async def test_threads_share_one_batcher_and_every_item_is_stored(mesh: Mesh) -> None:
    tenant = new_tenant()

    def run() -> tuple[list[str], int]:
        ids: list[str] = []
        lock = threading.Lock()
        with FeedbackMeshClient(**mesh.options(tenant)) as client:
            batcher = client.batcher(max_batch=100, linger=0.05)

            def produce(worker: int) -> None:
                for n in range(PER_THREAD):
                    request_id = batcher.submit_nowait(**agent_feedback(worker * PER_THREAD + n))
                    with lock:
                        ids.append(request_id)

            threads = [threading.Thread(target=produce, args=(w,)) for w in range(THREADS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            report = batcher.flush(timeout=120)
            batcher.close()
        return ids, report.created

    ids, created = await asyncio.to_thread(run)
    assert created == THREADS * PER_THREAD == len(set(ids))
    assert sorted(await mesh.request_ids(tenant)) == sorted(ids)


async def test_tasks_share_one_async_batcher_and_every_item_is_stored(mesh: Mesh) -> None:
    tenant = new_tenant()
    async with Flavour("async").client(**mesh.options(tenant)) as client:
        batcher = client.batcher(max_batch=64, linger=0.02)
        ids: list[str] = []

        async def produce(worker: int) -> None:
            for n in range(100):
                ids.append(batcher.submit_nowait(**agent_feedback(worker * 100 + n)))
                if n % 7 == 0:
                    await asyncio.sleep(0)

        await asyncio.gather(*(produce(w) for w in range(20)))
        first = await batcher.flush(timeout=120)
        ids.append(batcher.submit_nowait(**agent_feedback(1)))
        async with batcher:
            pass  # leaving flushes and closes
        with pytest.raises(BatcherClosedError):
            batcher.submit_nowait(**agent_feedback(2))
    assert first.created == 2000 and first.complete
    assert sorted(await mesh.request_ids(tenant)) == sorted(ids)


async def test_a_full_batcher_refuses_items_and_loses_none(mesh: Mesh, flavour: Flavour) -> None:
    tenant = new_tenant()
    async with flavour.client(**mesh.options(tenant)) as client:
        batcher = client.batcher(max_batch=5, max_pending=5, linger=0.01)
        accepted, refused = [], 0
        for n in range(200):
            try:
                accepted.append(batcher.submit_nowait(**agent_feedback(n)))
            except BatcherFullError:
                refused += 1
        report = await flavour.run(batcher.close, 60)
    assert refused > 0 and len(accepted) + refused == 200
    assert report.created == len(accepted)
    assert sorted(await mesh.request_ids(tenant)) == sorted(accepted)


async def test_rejected_and_failed_items_come_back_from_flush(mesh: Mesh, flavour: Flavour) -> None:
    tenant = new_tenant()
    async with flavour.client(**mesh.options(tenant)) as client:
        batcher = client.batcher(linger=0.01)
        good = [batcher.submit_nowait(**agent_feedback(n)) for n in range(6)]
        bad = batcher.submit_nowait(**agent_feedback(6, rating=0))
        with pytest.raises(BatcherFlushError) as flushed:
            await flavour.run(batcher.flush, 60)
        report = flushed.value.report
        assert (report.created, report.failed) == (6, [])
        assert [(r.request_id, list(r.field_violations)) for r in report.rejected] == [
            (bad, ["rating"])
        ]
        # The next flush reports only what came after.
        assert (await flavour.run(batcher.close, 60)).created == 0
    assert sorted(await mesh.request_ids(tenant)) == sorted(good)

    # Without the write scope every RPC fails: the items come back with their error, and
    # re-submitting them (same request_ids) stores each once.
    read_only = mesh.token_for(tenant, "u", (SCOPE_FEEDBACK_READ,))
    async with flavour.client(**mesh.options(tenant, token=read_only)) as client:
        batcher = client.batcher(max_batch=4, linger=0.01)
        ids = [batcher.submit_nowait(**agent_feedback(n)) for n in range(10)]
        with pytest.raises(BatcherFlushError) as failed:
            await flavour.run(batcher.close, 60)
    lost = failed.value.failed
    assert [f.request.request_id for f in lost] == ids
    assert all(isinstance(f.error, PermissionDeniedError) for f in lost)
    async with flavour.client(**mesh.options(tenant)) as client:
        again = await flavour.run(client.batch_submit, [f.request for f in lost])
    assert all(r.stored for r in again)
    assert sorted(await mesh.request_ids(tenant)) == sorted(good + ids)


async def test_an_open_batcher_is_flushed_at_interpreter_exit(mesh: Mesh) -> None:
    tenant = new_tenant()
    script = f"""
from feedbackmesh.client import FeedbackMeshClient, FeedbackType
client = FeedbackMeshClient(**{mesh.options(tenant)!r})
batcher = client.batcher(linger=600)  # nothing would be sent before exit
for n in range(50):
    batcher.submit_nowait(feedback_type=FeedbackType.GENERAL, rating=n % 5 + 1)
"""
    process = await asyncio.create_subprocess_exec(sys.executable, "-c", script)
    assert await process.wait() == 0
    assert await mesh.count(tenant) == 50
