"""Natural batching: concurrent callers' items go out together in one call.

An idle caller's item is sent at once. While ``max_in_flight`` calls run, new items queue
and leave as one batch when a call finishes, so the batch size grows with the load and
nobody waits on a timer unless ``linger`` asks for it. One batched call costs a database or
a remote service far less than the same items one by one (a round trip, a commit, an RPC).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class Coalescer(Generic[Item, Result]):
    def __init__(
        self,
        send: Callable[[list[Item]], Awaitable[Sequence[Result]]],
        *,
        max_batch: int,
        max_in_flight: int = 1,
        linger: float = 0.0,
        busy_window: float = 0.0,
    ) -> None:
        """``send`` returns one result per item, in order; what it raises, every caller of
        that batch gets. ``linger`` (seconds) is waited before a call that follows another
        within ``busy_window`` seconds: under load it buys bigger batches, idle costs nothing.
        """
        self._send = send
        self._max_batch = max_batch
        self._max_in_flight = max_in_flight
        self._linger = linger
        self._busy_window = busy_window
        self._queue: list[tuple[Item, asyncio.Future[Result]]] = []
        self._in_flight = 0
        self._last_call_end = 0.0
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, item: Item) -> Result:
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        self._start_calls()
        return await future

    def _start_calls(self) -> None:
        while self._queue and self._in_flight < self._max_in_flight:
            self._in_flight += 1
            task = asyncio.create_task(self._call())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _call(self) -> None:
        try:
            busy = time.monotonic() - self._last_call_end < self._busy_window
            # Yield at least once: callers scheduled in this loop iteration join the batch.
            await asyncio.sleep(self._linger if busy else 0)
            # Callers that gave up while queued (cancelled) cost nothing.
            self._queue = [(item, future) for item, future in self._queue if not future.done()]
            batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
            if not batch:
                return
            try:
                results = await self._send([item for item, _ in batch])
                if len(results) != len(batch):
                    raise RuntimeError(f"{len(results)} results for {len(batch)} items")
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                        future.exception()  # retrieved: a caller that gave up never reads it
                return
            except asyncio.CancelledError:
                for _, future in batch:
                    future.cancel()  # shutting down: no caller may wait forever
                raise
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)
        finally:
            self._last_call_end = time.monotonic()
            self._in_flight -= 1
            self._start_calls()
