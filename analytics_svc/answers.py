"""Answers stamped with the data version they were computed at, cached by it.

The exactness rule: an answer is stamped with version V (and cached under it) only when
the tenant's version read from Redis was V, trusted (writer's lease held) and settled
(no rows landing) both before and after the query. Rows become visible only after their
version is announced as pending and the committed version moves only after they landed
(ingest_svc/versions.py), so no row of another version can have been seen: the answer
is exactly V's, cached or not. When rows landed during the query it is run again right
after they did (the writer's next insert is usually a flush interval away); after a few
such attempts the call fails UNAVAILABLE (retryable) rather than answer with a version
it cannot vouch for. When Redis is not trusted (down, or no writer holds the lease)
answers are served uncached, stamped with ClickHouse's durable version read before the
query: the one case where rows landing during the query can show up under the version
before them (the next answer carries the new version).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Hashable
from typing import TYPE_CHECKING, TypeVar, cast

from analytics_svc import metrics
from analytics_svc.cache import AnswerCache
from analytics_svc.versions import Snapshot, VersionReader
from mesh_runtime.errors import Unavailable

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

A = TypeVar("A", bound="DataclassInstance")

_ATTEMPTS = 5
# An insert makes its rows visible within milliseconds to a few seconds.
_SETTLE_TIMEOUT = 2.0


class VersionedAnswers:
    def __init__(self, versions: VersionReader, cache: AnswerCache[object]) -> None:
        self._versions = versions
        self._cache = cache
        # Concurrent misses of one (tenant, request, version) share one computation.
        self._computing: dict[tuple[str, Hashable, int], asyncio.Task[object]] = {}

    async def get(
        self, view: str, tenant_id: str, request: Hashable, compute: Callable[[], Awaitable[A]]
    ) -> A:
        before = await self._versions.read(tenant_id)
        if not before.trusted:
            metrics.CACHE_REQUESTS.labels(view, "bypass").inc()
            return await self._verified(tenant_id, request, before, compute)
        cached = self._cache.get(tenant_id, request, before.version, view)
        if cached is not None:
            return cast(A, cached)
        key = (tenant_id, request, before.version)
        task = self._computing.get(key)
        if task is None:
            # A task of its own: one caller giving up must not cancel the others' answer.
            task = asyncio.ensure_future(self._verified(tenant_id, request, before, compute))
            self._computing[key] = cast("asyncio.Task[object]", task)
            task.add_done_callback(lambda _: self._computing.pop(key, None))
        return cast(A, await asyncio.shield(task))

    async def _verified(
        self,
        tenant_id: str,
        request: Hashable,
        before: Snapshot,
        compute: Callable[[], Awaitable[A]],
    ) -> A:
        for _ in range(_ATTEMPTS):
            if before.leased and not before.settled:
                before = await self._versions.wait_settled(tenant_id, _SETTLE_TIMEOUT)
            answer = await compute()
            if not before.leased:
                metrics.UNVERIFIED_ANSWERS.inc()
                return _stamped(answer, before.version)
            after = await self._versions.read(tenant_id)
            if before.trusted and after == before:
                stamped = _stamped(answer, before.version)
                self._cache.put(tenant_id, request, before.version, stamped)
                return stamped
            before = after
        metrics.UNVERIFIED_ANSWERS.inc()
        raise Unavailable("the data changed during every attempt to answer; retry")


def _stamped(answer: A, version: int) -> A:
    return dataclasses.replace(answer, data_version=version)
