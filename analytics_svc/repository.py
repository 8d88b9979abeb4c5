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
from dataclasses import dataclass, fields
from datetime import date, datetime
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
        for name in _MEASURE_FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def add_ratings(self, counts: Sequence[int]) -> None:
        """Adds the counts of ratings 1..5; count and rating_sum follow exactly."""
        for rating, count in enumerate(counts, start=1):
            setattr(self, f"rating_{rating}", getattr(self, f"rating_{rating}") + count)
            self.count += count
            self.rating_sum += rating * count

    def add_sentiment(self, counts: Sequence[int], score_sum: float) -> None:
        """Adds (positive, neutral, negative, no_comment) counts and the score sum."""
        positive, neutral, negative, no_comment = counts
        self.positive += positive
        self.neutral += neutral
        self.negative += negative
        self.no_comment += no_comment
        self.scored_count += positive + neutral + negative
        self.sentiment_score_sum += score_sum

    def ratings(self) -> list[int]:
        return [self.rating_1, self.rating_2, self.rating_3, self.rating_4, self.rating_5]


_MEASURE_FIELDS = tuple(f.name for f in fields(Measures))


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


# The Enum8 codes of feedback_events.sentiment in the order of Measures.add_sentiment:
# positive = 1, neutral = 2, negative = 3, no_comment = 0 (ingest_svc/schema.py).
_SENTIMENT_CODES = (1, 2, 3, 0)


def _add_row(measures: Measures, which: str, group: int, values: Sequence[Any]) -> None:
    """One row of queries.measures_sql: the rollup's sums (group 0), or the count (m0) and
    score sum (m4) of the raw rows of one rating (group = rating) or one sentiment
    (group = 1 + its Enum8 code)."""
    if group == 0:
        counts = [int(v) for v in values[:4]]
        if which == "ratings":
            measures.add_ratings([*counts, int(values[4])])
        else:
            measures.add_sentiment(counts, float(values[4]))
    elif which == "ratings":
        measures.add_ratings([int(values[0]) if group == r else 0 for r in range(1, 6)])
    else:
        counts = [int(values[0]) if group == 1 + code else 0 for code in _SENTIMENT_CODES]
        # No-comment rows carry no score (0 by the ingest contract; the old sumIf skipped it).
        measures.add_sentiment(counts, float(values[4]) if group != 1 else 0.0)


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
        # rollup rows: one thread each avoids thread hand-offs, so less CPU per query and
        # lower latency under load. A ClickHouse server keeps its default.
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

    async def _query(self, name: str, sql: str, params: Mapping[str, Any]) -> Sequence[Any]:
        """Runs one query; ``name`` says which (the metrics' label)."""
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
        metrics.QUERY_SECONDS.labels(name).observe(time.perf_counter() - started)
        # A ClickHouse server reports the rows it read (X-ClickHouse-Summary); chDB 26.9
        # reports the result rows there, so under chDB this counts rows returned.
        summary = getattr(result, "summary", None) or {}
        read_rows = int(summary.get("read_rows", 0) or 0)
        if read_rows:
            metrics.ROWS_READ.labels(name).inc(read_rows)
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
            "start": queries.ts(split.start),
            "tz": tz,
            "top_n": 0,
        }

    async def measures(
        self,
        which: str,
        filters: Filters,
        split: Split,
        grain: Grain,
        tz: str,
        previous: Split | None = None,
    ) -> tuple[dict[BucketKey, Measures], Measures]:
        """Per bucket of ``split`` and the total of ``previous`` (zero when None), for the
        measure set ``which`` of queries.MEASURE_SETS (other fields stay 0)."""
        parts, ranges = queries.reads(split, *([previous] if previous is not None else []))
        sql = queries.measures_sql(which, grain, parts, previous is not None, filters.shape)
        params = self._params(filters, split, tz) | ranges
        rows = await self._query(which, sql, params)
        out: dict[BucketKey, Measures] = {}
        total_previous = Measures()
        for period, key, group, *values in rows:
            # A bucket may have rows from each table: partial sums, added exactly here.
            if period:
                bucket = _key(key)
                measures = out.get(bucket)
                if measures is None:
                    measures = out[bucket] = Measures()
            else:
                measures = total_previous
            _add_row(measures, which, int(group), values)
        return out, total_previous

    async def usage(
        self, filters: Filters, split: Split, grain: Grain, tz: str
    ) -> tuple[dict[BucketKey, Usage], Usage]:
        """Per bucket, and distinct over the whole range (not a sum of buckets)."""
        parts, ranges = queries.reads(split)
        rows = await self._query(
            "usage",
            queries.usage_sql(grain, parts, filters.shape),
            self._params(filters, split, tz) | ranges,
        )
        buckets: dict[BucketKey, Usage] = {}
        total = Usage(0, 0)
        for key, is_total, count, users in rows:
            if is_total:
                total = Usage(int(count), int(users))
            else:
                buckets[_key(key)] = Usage(int(count), int(users))
        return buckets, total

    async def themes(self, filters: Filters, split: Split, top_n: int) -> dict[str, list[Ranked]]:
        parts, ranges = queries.reads(split)
        params = self._params(filters, split, "UTC") | ranges | {"top_n": top_n}
        rows = await self._query("themes", queries.themes_sql(parts, filters.shape), params)
        out: dict[str, list[Ranked]] = {"positive": [], "negative": []}
        for label, tag, count, rating_sum in rows:
            out[str(label)].append(Ranked(str(tag), int(count), int(rating_sum)))
        return out

    async def top_targets(
        self, filters: Filters, start: datetime, end: datetime, top_n: int
    ) -> dict[str, list[Ranked]]:
        """The most rated agents and executions: {"agent": [...], "execution": [...]}."""
        params = self._params(filters, Split(start, end, start, start), "UTC") | {
            "end": queries.ts(end),
            "top_n": top_n,
        }
        rows = await self._query("top_targets", queries.top_targets_sql(filters.shape), params)
        out: dict[str, list[Ranked]] = {"agent": [], "execution": []}
        for is_agent, target, count, rating_sum in rows:
            kind = "agent" if is_agent else "execution"
            out[kind].append(Ranked(str(int(target)), int(count), int(rating_sum)))
        return out

    async def data_version(self, tenant_id: str) -> int:
        """The tenant's durable data version (0: no rows yet)."""
        rows = await self._query(
            "data_version",
            "SELECT max(data_version) FROM tenant_data_versions WHERE tenant_id = {tenant:String}",
            {"tenant": tenant_id},
        )
        return int(rows[0][0]) if rows else 0
