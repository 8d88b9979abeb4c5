"""The background batcher: ``submit_nowait`` queues a feedback and returns its request_id
at once; a worker sends the queue in ``batch_submit`` calls (a full batch at once, else
after ``linger`` seconds, or on ``flush``).

Nothing is dropped silently. The batcher holds at most ``max_pending`` items (queued or in
flight); past that ``submit_nowait`` raises ``BatcherFullError`` and the caller keeps the
item. Items the server rejects (invalid, conflicting) and items whose RPC failed after
the client's retries are kept for the next ``flush()``, which raises ``BatcherFlushError``
carrying them (failed ones with their request, safe to submit again); ``flush()`` returns
the report only when every item since the previous flush was stored. Leaving the context
manager flushes and closes; a blocking batcher still open at interpreter exit is closed
then, and what it could not store is logged as an error.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import Unpack

from feedbackmesh.client.arguments import SubmitFields, submission
from feedbackmesh.client.enums import BatchItemStatus
from feedbackmesh.client.errors import (
    BatcherClosedError,
    BatcherFlushError,
    BatcherFullError,
    BatchSubmitError,
)
from feedbackmesh.client.results import BatchItemResult, FailedSubmission, FlushReport
from feedbackmesh.feedback.v1 import feedback_pb2

logger = logging.getLogger(__name__)
Request = feedback_pb2.SubmitFeedbackRequest
# How long interpreter exit waits for an open blocking batcher to send its queue.
EXIT_FLUSH_SECONDS = 30.0
Outcome = tuple[Sequence[BatchItemResult], list[FailedSubmission]]


def outcome_of_error(batch: Sequence[Request], error: Exception) -> Outcome:
    """What a failed ``batch_submit`` stored, and which items are left failed."""
    if isinstance(error, BatchSubmitError):
        return error.results, [FailedSubmission(r, error.cause) for r in error.pending]
    return [], [FailedSubmission(r, error) for r in batch]


class Ledger:
    """The batcher's bookkeeping, free of threads and event loops (the batchers below
    serialize access to it)."""

    def __init__(self, max_batch: int, max_pending: int, linger: float) -> None:
        if not 1 <= max_batch <= max_pending:
            raise ValueError("need 1 <= max_batch <= max_pending")
        self.max_batch, self.max_pending, self.linger = max_batch, max_pending, linger
        self.queue: deque[Request] = deque()
        self.in_flight = 0
        self.accepted = 0
        self.finished = 0
        self.flush_to = 0
        self.closed = False
        self.report = FlushReport()
        self._oldest_at = 0.0

    def accept(self, item: SubmitFields | Request) -> str:
        if self.closed:
            raise BatcherClosedError("the batcher is closed")
        if len(self.queue) + self.in_flight >= self.max_pending:
            raise BatcherFullError(f"{self.max_pending} submissions pending")
        request = submission(item)
        if not self.queue:
            self._oldest_at = time.monotonic()
        self.queue.append(request)
        self.accepted += 1
        return request.request_id

    def wait_time(self) -> float | None:
        """0 when a batch should go now, else how long to wait (None: nothing queued)."""
        if not self.queue or self.in_flight:
            return None
        if len(self.queue) >= self.max_batch or self.closed or self.flush_to > self.finished:
            return 0.0
        return max(0.0, self._oldest_at + self.linger - time.monotonic())

    def worker_needed(self) -> bool:
        """Whether the last accepted item changes what the worker waits for (it starts
        the linger time, or makes a batch due)."""
        return len(self.queue) == 1 or self.wait_time() == 0.0

    def take(self) -> list[Request]:
        batch = [self.queue.popleft() for _ in range(min(self.max_batch, len(self.queue)))]
        self.in_flight = len(batch)
        self._oldest_at = time.monotonic()
        return batch

    def record(self, outcome: Outcome) -> None:
        results, failed = outcome
        for result in results:
            if result.status == BatchItemStatus.CREATED:
                self.report.created += 1
            elif result.status == BatchItemStatus.DUPLICATE:
                self.report.duplicate += 1
            else:
                self.report.rejected.append(result)
        self.report.failed += failed
        self.finished += self.in_flight
        self.in_flight = 0

    def drained(self) -> bool:
        return self.closed and not self.queue and not self.in_flight

    def take_report(self) -> FlushReport:
        report, self.report = self.report, FlushReport()
        if not report.complete:
            raise BatcherFlushError(report)
        return report


class Batcher:
    """The thread-safe batcher of ``FeedbackMeshClient.batcher()`` (one worker thread)."""

    def __init__(
        self, send: Callable[[Sequence[Request]], list[BatchItemResult]], ledger: Ledger
    ) -> None:
        self._send = send
        self._ledger = ledger
        self._changed = threading.Condition()
        self._worker = threading.Thread(target=self._run, name="feedbackmesh-batcher", daemon=True)
        self._worker.start()
        atexit.register(self._close_at_exit)

    def submit_nowait(self, **fields: Unpack[SubmitFields]) -> str:
        """Queues one feedback (the fields of ``submit``); returns its request_id, or
        raises ``BatcherFullError`` / ``BatcherClosedError`` (the item not taken)."""
        with self._changed:
            request_id = self._ledger.accept(fields)
            if self._ledger.worker_needed():
                self._changed.notify_all()
        return request_id

    def flush(self, timeout: float | None = None) -> FlushReport:
        """Sends everything queued so far and waits for it (TimeoutError after
        ``timeout`` seconds, the items staying queued)."""
        with self._changed:
            target = self._ledger.flush_to = self._ledger.accepted
            self._changed.notify_all()
            if not self._changed.wait_for(lambda: self._ledger.finished >= target, timeout):
                raise TimeoutError(f"flush: {target - self._ledger.finished} items not sent yet")
            return self._ledger.take_report()

    def close(self, timeout: float | None = None) -> FlushReport:
        """Flushes, stops the worker and refuses new items."""
        atexit.unregister(self._close_at_exit)
        with self._changed:
            self._ledger.closed = True
            self._changed.notify_all()
        self._worker.join(timeout)
        if self._worker.is_alive():
            raise TimeoutError("close: the batcher is still sending")
        with self._changed:
            return self._ledger.take_report()

    def __enter__(self) -> Batcher:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _close_at_exit(self) -> None:
        try:
            self.close(EXIT_FLUSH_SECONDS)
        except (BatcherFlushError, TimeoutError) as error:
            logger.error("feedbackmesh batcher at exit: not all submissions stored: %s", error)

    def _run(self) -> None:
        while True:
            with self._changed:
                while (wait := self._ledger.wait_time()) != 0.0:
                    if self._ledger.drained():
                        return
                    self._changed.wait(wait)
                batch = self._ledger.take()
            try:
                outcome: Outcome = (self._send(batch), [])
            except Exception as error:  # no item may vanish, whatever went wrong
                outcome = outcome_of_error(batch, error)
            with self._changed:
                self._ledger.record(outcome)
                self._changed.notify_all()


class AsyncBatcher:
    """The batcher of ``AsyncFeedbackMeshClient.batcher()``: one worker task on the
    running event loop; use it from that loop."""

    def __init__(
        self, send: Callable[[Sequence[Request]], Awaitable[list[BatchItemResult]]], ledger: Ledger
    ) -> None:
        self._send = send
        self._ledger = ledger
        self._wakeup = asyncio.Event()
        self._progress = asyncio.Condition()
        self._worker: asyncio.Task[None] | None = None

    def submit_nowait(self, **fields: Unpack[SubmitFields]) -> str:
        """Queues one feedback (the fields of ``submit``); returns its request_id."""
        request_id = self._ledger.accept(fields)
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._run())
        if self._ledger.worker_needed():
            self._wakeup.set()
        return request_id

    async def flush(self, timeout: float | None = None) -> FlushReport:
        """As ``Batcher.flush``."""
        target = self._ledger.flush_to = self._ledger.accepted
        self._wakeup.set()
        async with self._progress:
            await asyncio.wait_for(
                self._progress.wait_for(lambda: self._ledger.finished >= target), timeout
            )
            return self._ledger.take_report()

    async def close(self, timeout: float | None = None) -> FlushReport:
        """As ``Batcher.close``."""
        self._ledger.closed = True
        self._wakeup.set()
        if self._worker is not None:
            await asyncio.wait_for(asyncio.shield(self._worker), timeout)
        return self._ledger.take_report()

    async def __aenter__(self) -> AsyncBatcher:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _run(self) -> None:
        while True:
            while (wait := self._ledger.wait_time()) != 0.0:
                if self._ledger.drained():
                    return
                self._wakeup.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), wait)
            batch = self._ledger.take()
            try:
                outcome: Outcome = (await self._send(batch), [])
            except Exception as error:  # no item may vanish, whatever went wrong
                outcome = outcome_of_error(batch, error)
            self._ledger.record(outcome)
            async with self._progress:
                self._progress.notify_all()
