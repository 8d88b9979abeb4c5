"""One model lane: passes run one at a time on one thread, in a fair order.

A pass is at most :data:`PASS_TEXTS` texts and about :data:`PASS_CHARS` characters of
them (each text counted up to :data:`READ_CHARS`, about what a model's token limit lets it
read), so a pass of long texts is as short as one of typical comments. A call that fits
in one pass (a single
comment, a coalesced group of them, a small batch) takes the *urgent* queue; a larger
call is cut into passes that take the *bulk* queue one at a time, so several large calls
interleave pass by pass and an urgent pass waits for at most the pass that is running.
A caller that goes away (cancelled RPC, passed deadline) leaves the queue, and its
remaining passes never run.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
from collections import deque
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

Result = TypeVar("Result")

PASS_TEXTS = 64
PASS_CHARS = 64 * 120  # 64 comments of ~20 words
READ_CHARS = 640  # ~128 word pieces


def passes(texts: Sequence[str]) -> list[list[str]]:
    """``texts`` cut, in order, into passes within both limits (at least one text each)."""
    out: list[list[str]] = []
    current: list[str] = []
    chars = 0
    for text in texts:
        cost = min(len(text), READ_CHARS)
        if current and (len(current) == PASS_TEXTS or chars + cost > PASS_CHARS):
            out.append(current)
            current, chars = [], 0
        current.append(text)
        chars += cost
    if current:
        out.append(current)
    return out


class ModelLane(Generic[Result]):
    def __init__(self, run_pass: Callable[[list[str]], list[Result]]) -> None:
        self._run_pass = run_pass
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="sentiment-model"
        )
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._bulk: deque[asyncio.Future[None]] = deque()
        self._busy = False

    async def run(self, texts: Sequence[str], deadline: float | None = None) -> list[Result]:
        """Scores ``texts`` in passes; raises TimeoutError once ``deadline``
        (``loop.time()``) has passed before a pass could start."""
        chunks = passes(texts)
        urgent = len(chunks) == 1
        results: list[Result] = []
        for chunk in chunks:
            await self._acquire(urgent, deadline)
            results += await self._pass(chunk)
        return results

    async def _acquire(self, urgent: bool, deadline: float | None) -> None:
        loop = asyncio.get_running_loop()
        if deadline is not None and loop.time() >= deadline:
            raise TimeoutError("deadline passed before the pass could start")
        if not self._busy and not self._urgent and not self._bulk:
            self._busy = True
            return
        turn: asyncio.Future[None] = loop.create_future()
        (self._urgent if urgent else self._bulk).append(turn)
        try:
            if deadline is None:
                await turn
            else:
                await asyncio.wait_for(asyncio.shield(turn), max(0.0, deadline - loop.time()))
        except BaseException:
            if turn.done() and not turn.cancelled():
                self._release()  # granted as we gave up: hand the turn on
            else:
                turn.cancel()  # still queued: _release skips it
            raise

    async def _pass(self, chunk: list[str]) -> list[Result]:
        """Runs one pass while holding the turn; the turn passes on when the thread is
        done, even if the caller stopped waiting, so passes never overlap."""
        future = self._executor.submit(self._run_pass, chunk)
        loop = asyncio.get_running_loop()

        def done(_: concurrent.futures.Future[list[Result]]) -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed at shutdown
                loop.call_soon_threadsafe(self._release)

        future.add_done_callback(done)
        return await asyncio.wrap_future(future)

    def _release(self) -> None:
        for queue in (self._urgent, self._bulk):
            while queue:
                turn = queue.popleft()
                if not turn.done():
                    turn.set_result(None)
                    return
        self._busy = False

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
