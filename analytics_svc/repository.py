"""ClickHouse reads of the analytics views.

clickhouse-connect is synchronous, so each query runs in a thread on a client taken
from a small pool: one chDB client serializes its calls, separate clients on the same
path run concurrently.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from clickhouse_connect.driver.exceptions import ClickHouseError

from analytics_svc import metrics, queries
from analytics_svc.buckets import BucketKey, Grain, Split
from mesh_runtime.errors import Unavailable
from mesh_runtime.resources import create_clickhouse_client, is_embedded_clickhouse
from mesh_runtime.settings import Settings

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Filters:
    tenant_id: str
    feedback_type: str = ""  # "" = all; else the ClickHouse enum name, e.g. "agent"
    agent_id: int = 0
    execution_id: int = 0
    chat_session_id: str = ""

    @property
    def targets(self) -> bool:
        return bool(self.agent_id or self.execution_id or self.chat_session_id)

    @property
    def shape(self) -> queries.Shape:
        return queries.Shape(typed=bool(self.feedback_type), targets=self.targets)


@dataclass(slots=True)
class Measures:
    """Additive counters of one bucket (every field sums across buckets exactly)."""

    count: int = 0
    rating_sum: int = 0
    rating_1: int = 0
    rating_2: int = 0
    rating_3: int = 0
    rating_4: int = 0
    rating_5: int = 0
    positive: int = 0
    neutral: int = 0
    negative: int = 0
    no_comment: int = 0
    scored_count: int = 0
    sentiment_score_sum: float = 0.0

    def add(self, other: Measures) -> None:
        for name in queries.MEASURE_COLUMNS:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def ratings(self) -> list[int]:
        return [self.rating_1, self.rating_2, self.rating_3, self.rating_4, self.rating_5]


@dataclass(frozen=True, slots=True)
class Usage:
    submissions: int
    active_users: int


@dataclass(frozen=True, slots=True)
class Ranked:
    """A theme (tag) or a top target: count and rating sum."""

    key: str
    count: int
    rating_sum: int


def _ts(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _hour(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _key(value: Any) -> BucketKey:
    # Dates come back as date (day/week/month), hours as epoch seconds, ALL as 0.
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return int(value)


class AnalyticsRepository:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._size = max(1, settings.analytics_clickhouse_clients)
        self._idle: asyncio.Queue[Client] = asyncio.Queue()
        self._created = 0
        self._lock = asyncio.Lock()
        # Embedded chDB shares the service's CPUs, and these queries read a few thousand
        # rollup rows: one thread each avoids thread hand-offs (measured: less CPU per
        # query, much lower latency under load). A ClickHouse server keeps its default.
        self._query_settings = {"max_threads": 1} if is_embedded_clickhouse(settings) else {}

    async def _acquire(self) -> Client:
        async with self._lock:
            if self._idle.empty() and self._created < self._size:
                # Created on first use: the tables may appear after this service starts.
                client = await asyncio.to_thread(
                    create_clickhouse_client,
                    self._settings,
                    database=self._settings.clickhouse_database,
                )
                self._created += 1
                return client
        return await self._idle.get()

    async def _query(self, rpc: str, sql: str, params: Mapping[str, Any]) -> Sequence[Any]:
        try:
            client = await self._acquire()
        except ClickHouseError as exc:
            logger.warning("cannot connect to ClickHouse: %s", exc)
            raise Unavailable("the analytics store is unavailable") from exc
        started = time.perf_counter()
        try:
            result = await asyncio.to_thread(
                client.query, sql, parameters=dict(params), settings=self._query_settings
            )
        except ClickHouseError as exc:
            # Down, overloaded, or the ingest side has not created the tables yet: retryable.
            logger.warning("analytics query failed: %s", exc)
            raise Unavailable("the analytics store is unavailable") from exc
        finally:
            self._idle.put_nowait(client)
        metrics.QUERY_SECONDS.labels(rpc).observe(time.perf_counter() - started)
        # A ClickHouse server reports the rows it read (X-ClickHouse-Summary); chDB 26.9
        # reports the result rows there, so under chDB this counts rows returned.
        summary = getattr(result, "summary", None) or {}
        read_rows = int(summary.get("read_rows", 0) or 0)
        if read_rows:
            metrics.ROWS_READ.labels(rpc).inc(read_rows)
        return list(result.result_rows)

    async def close(self) -> None:
        while not self._idle.empty():
            client = self._idle.get_nowait()
            await asyncio.to_thread(client.close)

    @staticmethod
    def _params(filters: Filters, split: Split, tz: str) -> dict[str, Any]:
        return {
            "tenant": filters.tenant_id,
            "feedback_type": filters.feedback_type,
            "agent_id": filters.agent_id,
            "execution_id": filters.execution_id,
            "chat_session_id": filters.chat_session_id,
            "start": _ts(split.start),
            "end": _ts(split.end),
            "rollup_start": _ts(split.rollup_start),
            "rollup_end": _ts(split.rollup_end),
            # Whole hours (or an empty range), compared with the rollups' DateTime key.
            "rollup_start_hour": _hour(split.rollup_start),
            "rollup_end_hour": _hour(split.rollup_end),
            "tz": tz,
            "top_n": 0,
        }

    async def measures(
        self,
        rpc: str,
        which: str,
        filters: Filters,
        split: Split,
        grain: Grain,
        tz: str,
        previous: Split | None = None,
    ) -> tuple[dict[BucketKey, Measures], Measures]:
        """Per bucket of ``split`` and the total of ``previous`` (zero when None), for the
        measure set ``which`` of queries.MEASURE_SETS (other fields stay 0)."""
        columns = queries.MEASURE_SETS[which]
        parts = split.parts
        if previous is not None:
            parts = (parts[0] or previous.parts[0], parts[1] or previous.parts[1])
        sql = queries.measures_sql(which, grain, parts, previous is not None, filters.shape)
        params = self._params(filters, split, tz)
        if previous is not None:
            params |= {
                f"previous_{name}": value
                for name, value in self._params(filters, previous, tz).items()
                if name.startswith(("start", "end", "rollup_"))
            }
        rows = await self._query(rpc, sql, params)
        out: dict[BucketKey, Measures] = {}
        total_previous = Measures()
        for period, key, *values in rows:
            # A bucket may have a row from each table: partial sums, added exactly here.
            if period:
                bucket = _key(key)
                measures = out.get(bucket)
                if measures is None:
                    measures = out[bucket] = Measures()
            else:
                measures = total_previous
            for column, value in zip(columns, values, strict=True):
                if column == "sentiment_score_sum":
                    measures.sentiment_score_sum += float(value)
                else:
                    setattr(measures, column, getattr(measures, column) + int(value))
        return out, total_previous

    async def usage(
        self, rpc: str, filters: Filters, split: Split, grain: Grain, tz: str
    ) -> tuple[dict[BucketKey, Usage], Usage]:
        """Per bucket, and distinct over the whole range (not a sum of buckets)."""
        rows = await self._query(
            rpc,
            queries.usage_sql(grain, split.parts, filters.shape),
            self._params(filters, split, tz),
        )
        buckets: dict[BucketKey, Usage] = {}
        total = Usage(0, 0)
        for key, is_total, count, users in rows:
            if is_total:
                total = Usage(int(count), int(users))
            else:
                buckets[_key(key)] = Usage(int(count), int(users))
        return buckets, total

    async def themes(
        self, rpc: str, filters: Filters, split: Split, top_n: int
    ) -> dict[str, list[Ranked]]:
        params = self._params(filters, split, "UTC") | {"top_n": top_n}
        rows = await self._query(rpc, queries.themes_sql(split.parts, filters.shape), params)
        out: dict[str, list[Ranked]] = {"positive": [], "negative": []}
        for label, tag, count, rating_sum in rows:
            out[str(label)].append(Ranked(str(tag), int(count), int(rating_sum)))
        return out

    async def top_targets(
        self, rpc: str, filters: Filters, start: datetime, end: datetime, top_n: int
    ) -> dict[str, list[Ranked]]:
        """The most rated agents and executions: {"agent": [...], "execution": [...]}."""
        params = {
            "tenant": filters.tenant_id,
            "feedback_type": filters.feedback_type,
            "start": _ts(start),
            "end": _ts(end),
            "top_n": top_n,
        }
        rows = await self._query(rpc, queries.top_targets_sql(filters.shape), params)
        out: dict[str, list[Ranked]] = {"agent": [], "execution": []}
        for kind, target, count, rating_sum in rows:
            out[str(kind)].append(Ranked(str(int(target)), int(count), int(rating_sum)))
        return out
