"""Natural batching: idle callers go out alone, concurrent ones together, in order, with
failures and cancellation reaching exactly the callers of the affected batch."""

from __future__ import annotations

import asyncio

import pytest

from mesh_runtime.coalesce import Coalescer


class Recorder:
    def __init__(self, delay: float = 0.01, fail_on: int | None = None) -> None:
        self.batches: list[list[int]] = []
        self.delay = delay
        self.fail_on = fail_on
        self.running = 0
        self.max_running = 0

    async def send(self, items: list[int]) -> list[str]:
        self.batches.append(items)
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        try:
            await asyncio.sleep(self.delay)
            if self.fail_on is not None and self.fail_on in items:
                raise ValueError(f"bad item {self.fail_on}")
            return [f"r{item}" for item in items]
        finally:
            self.running -= 1


async def test_idle_caller_goes_alone_and_concurrent_callers_share_calls() -> None:
    recorder = Recorder()
    coalescer = Coalescer(recorder.send, max_batch=100)
    assert await coalescer.submit(1) == "r1"
    assert recorder.batches == [[1]]
    results = await asyncio.gather(*(coalescer.submit(n) for n in range(2, 52)))
    assert results == [f"r{n}" for n in range(2, 52)]
    assert sorted(n for batch in recorder.batches[1:] for n in batch) == list(range(2, 52))
    assert len(recorder.batches) == 2  # the burst arrived in one loop iteration


async def test_batches_grow_while_calls_are_in_flight_and_respect_limits() -> None:
    recorder = Recorder(delay=0.02)
    coalescer = Coalescer(recorder.send, max_batch=8, max_in_flight=2)

    async def trickle(n: int) -> str:
        await asyncio.sleep(n * 0.002)
        return await coalescer.submit(n)

    results = await asyncio.gather(*(trickle(n) for n in range(60)))
    assert results == [f"r{n}" for n in range(60)]
    assert recorder.max_running == 2
    assert max(len(batch) for batch in recorder.batches) <= 8
    assert len(recorder.batches) < 30  # items arriving during a call waited for the next


async def test_a_failed_batch_fails_only_its_callers() -> None:
    recorder = Recorder(fail_on=3)
    coalescer = Coalescer(recorder.send, max_batch=100)
    first = await asyncio.gather(*(coalescer.submit(n) for n in range(5)), return_exceptions=True)
    assert all(isinstance(r, ValueError) for r in first)
    assert await coalescer.submit(7) == "r7"  # the coalescer keeps working


async def test_wrong_result_count_is_an_error_not_a_misdelivery() -> None:
    async def short(items: list[int]) -> list[int]:
        return items[:-1]

    coalescer = Coalescer(short, max_batch=10)
    with pytest.raises(RuntimeError, match="results for"):
        await asyncio.gather(coalescer.submit(1), coalescer.submit(2))


async def test_linger_only_when_busy() -> None:
    recorder = Recorder(delay=0.0)
    coalescer = Coalescer(recorder.send, max_batch=100, linger=0.05, busy_window=0.2)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await coalescer.submit(1)  # idle: no linger
    idle = loop.time() - started
    started = loop.time()
    await coalescer.submit(2)  # right after a call: lingers to gather company
    busy = loop.time() - started
    assert idle < 0.04 <= busy


async def test_cancelled_call_cancels_its_waiters() -> None:
    gate = asyncio.Event()

    async def blocked(items: list[int]) -> list[int]:
        await gate.wait()
        return items

    coalescer = Coalescer(blocked, max_batch=10)
    waiter = asyncio.ensure_future(coalescer.submit(1))
    await asyncio.sleep(0.01)
    for task in list(coalescer._tasks):
        task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter


async def test_callers_that_gave_up_while_queued_are_not_sent() -> None:
    recorder = Recorder(delay=0.05)
    coalescer = Coalescer(recorder.send, max_batch=100)
    running = asyncio.ensure_future(coalescer.submit(1))
    await asyncio.sleep(0.01)  # item 1's call is in flight; the next items queue
    gone = [asyncio.ensure_future(coalescer.submit(n)) for n in (2, 3)]
    staying = asyncio.ensure_future(coalescer.submit(4))
    await asyncio.sleep(0)
    for task in gone:
        task.cancel()
    assert await running == "r1"
    assert await staying == "r4"
    assert recorder.batches == [[1], [4]]
