"""The model lane: one pass at a time, calls that fit in one pass go ahead of large
batches, large batches interleave, and a caller that has gone costs no further pass."""

from __future__ import annotations

import asyncio
import threading

import pytest

from sentiment_svc.lane import PASS_CHARS, PASS_TEXTS, READ_CHARS, ModelLane, passes

WAIT = 30.0  # generous: conditions, never durations


class GatedModel:
    """Records every pass; each pass blocks until the test opens the gate for it."""

    def __init__(self) -> None:
        self.passes: list[list[str]] = []
        self.gate = threading.Semaphore(0)
        self.started = threading.Semaphore(0)
        self.running = 0
        self.overlapped = False
        self._lock = threading.Lock()

    def __call__(self, texts: list[str]) -> list[str]:
        with self._lock:
            self.running += 1
            self.overlapped |= self.running > 1
            self.passes.append(texts)
        self.started.release()
        assert self.gate.acquire(timeout=WAIT)
        with self._lock:
            self.running -= 1
        return [t.upper() for t in texts]

    async def wait_started(self) -> None:
        assert await asyncio.to_thread(self.started.acquire, True, WAIT)


def texts(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{i}" for i in range(count)]


async def test_a_single_call_waits_for_one_pass_of_a_large_batch_only() -> None:
    model = GatedModel()
    lane: ModelLane[str] = ModelLane(model)
    try:
        big = asyncio.create_task(lane.run(texts("b", 4 * PASS_TEXTS)))
        await model.wait_started()  # the batch's first pass is running
        single = asyncio.create_task(lane.run(["one"]))
        await asyncio.sleep(0)
        model.gate.release()  # finish the batch's first pass: the single goes next
        await model.wait_started()
        assert model.passes[1] == ["one"]
        model.gate.release()
        assert await asyncio.wait_for(single, WAIT) == ["ONE"]
        assert not big.done()
        for _ in range(3):
            await model.wait_started()
            model.gate.release()
        result = await asyncio.wait_for(big, WAIT)
        assert result == [t.upper() for t in texts("b", 4 * PASS_TEXTS)]
        assert not model.overlapped
    finally:
        lane.close()


async def test_large_batches_interleave_pass_by_pass() -> None:
    model = GatedModel()
    lane: ModelLane[str] = ModelLane(model)
    try:
        first = asyncio.create_task(lane.run(texts("a", 3 * PASS_TEXTS)))
        await model.wait_started()
        second = asyncio.create_task(lane.run(texts("b", 3 * PASS_TEXTS)))
        await asyncio.sleep(0)
        for _ in range(5):
            model.gate.release()
            await model.wait_started()
        model.gate.release()
        await asyncio.wait_for(asyncio.gather(first, second), WAIT)
        assert [p[0][0] for p in model.passes] == ["a", "b", "a", "b", "a", "b"]
    finally:
        lane.close()


async def test_a_cancelled_caller_runs_no_further_pass() -> None:
    model = GatedModel()
    lane: ModelLane[str] = ModelLane(model)
    try:
        big = asyncio.create_task(lane.run(texts("b", 5 * PASS_TEXTS)))
        await model.wait_started()
        queued = asyncio.create_task(lane.run(texts("q", 2 * PASS_TEXTS)))
        await asyncio.sleep(0)
        big.cancel()
        with pytest.raises(asyncio.CancelledError):
            await big
        model.gate.release()  # the running pass still ends; then the other caller goes
        await model.wait_started()
        model.gate.release()
        await model.wait_started()
        model.gate.release()
        assert len(await asyncio.wait_for(queued, WAIT)) == 2 * PASS_TEXTS
        assert [p[0][0] for p in model.passes] == ["b", "q", "q"]
        # The lane is free again: a new call runs at once.
        after = asyncio.create_task(lane.run(["x"]))
        await model.wait_started()
        model.gate.release()
        assert await asyncio.wait_for(after, WAIT) == ["X"]
    finally:
        lane.close()


async def test_no_pass_starts_after_the_deadline() -> None:
    model = GatedModel()
    lane: ModelLane[str] = ModelLane(model)
    loop = asyncio.get_running_loop()
    try:
        with pytest.raises(TimeoutError):
            await lane.run(["late"], deadline=loop.time() - 1)
        busy = asyncio.create_task(lane.run(["busy"]))
        await model.wait_started()
        # Queued behind a pass that outlasts its deadline: it gives up, nothing runs.
        with pytest.raises(TimeoutError):
            await lane.run(texts("d", 2 * PASS_TEXTS), deadline=loop.time() + 0.05)
        model.gate.release()
        assert await asyncio.wait_for(busy, WAIT) == ["BUSY"]
        assert model.passes == [["busy"]]
    finally:
        lane.close()


def test_passes_are_bounded_by_texts_and_by_characters() -> None:
    short = texts("s", 2 * PASS_TEXTS + 1)
    assert [len(p) for p in passes(short)] == [PASS_TEXTS, PASS_TEXTS, 1]
    long = ["x" * 10_000] * 100  # each counts as READ_CHARS
    cut = passes(long)
    assert all(len(p) * READ_CHARS <= PASS_CHARS for p in cut)
    assert sum(len(p) for p in cut) == 100
    assert passes(["y" * 10_000]) == [["y" * 10_000]]
