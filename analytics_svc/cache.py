"""The per-replica answer cache: (tenant, normalized request) -> the answer at one data
version, least recently used first out, bounded by estimated bytes.

Only the newest version of an answer is kept: a lookup names the version it needs and
an entry of any other version is a miss, so an answer computed at an older version than
the one a reader sees can never be served. Entries are immutable domain results.
"""

from __future__ import annotations

import dataclasses
import sys
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from analytics_svc import metrics

T = TypeVar("T")


def estimate_bytes(value: object) -> int:
    """Deep size of an answer (dataclasses, lists, tuples, dicts and scalars), as
    ``sys.getsizeof`` counts it; shared scalars (small ints, interned strings) are
    counted each time, so this errs on the high side."""
    size = sys.getsizeof(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        size += sum(estimate_bytes(getattr(value, f.name)) for f in dataclasses.fields(value))
    elif isinstance(value, list | tuple | set | frozenset):
        size += sum(estimate_bytes(item) for item in value)
    elif isinstance(value, dict):
        size += sum(estimate_bytes(k) + estimate_bytes(v) for k, v in value.items())
    return size


@dataclass(frozen=True, slots=True)
class _Entry(Generic[T]):
    version: int
    answer: T
    size: int


class AnswerCache(Generic[T]):
    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max(0, max_bytes)
        self._entries: OrderedDict[tuple[str, Hashable], _Entry[T]] = OrderedDict()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, tenant: str, request: Hashable, version: int, view: str) -> T | None:
        key = (tenant, request)
        entry = self._entries.get(key)
        if entry is None or entry.version != version:
            metrics.CACHE_REQUESTS.labels(view, "miss").inc()
            return None
        self._entries.move_to_end(key)
        metrics.CACHE_REQUESTS.labels(view, "hit").inc()
        return entry.answer

    def put(self, tenant: str, request: Hashable, version: int, answer: T) -> None:
        key = (tenant, request)
        old = self._entries.get(key)
        if old is not None and old.version > version:
            return  # a slower computation of an older version
        size = estimate_bytes(answer) + estimate_bytes(key)
        if size > self._max_bytes:
            return
        if old is not None:
            self._remove(key)
        self._entries[key] = _Entry(version, answer, size)
        self.bytes += size
        while self.bytes > self._max_bytes:
            self._remove(next(iter(self._entries)))
            metrics.CACHE_EVICTIONS.inc()
        self._report()

    def _remove(self, key: tuple[str, Hashable]) -> None:
        self.bytes -= self._entries.pop(key).size

    def _report(self) -> None:
        metrics.CACHE_BYTES.set(self.bytes)
        metrics.CACHE_ENTRIES.set(len(self._entries))
