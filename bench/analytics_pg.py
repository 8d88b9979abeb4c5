"""The analytics answers computed by GROUP BY over PostgreSQL (the baseline of
bench/analytics_bench.py); each view runs its queries concurrently on a pool, as the
service runs its ClickHouse queries."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import asyncpg

_RANGE = "tenant_id = $1 AND created_at >= $2 AND created_at < $3"

_SERIES = f"""
SELECT date_trunc('day', created_at AT TIME ZONE $4) AS d, count(*), sum(rating),
       avg(rating)::float8,
       count(*) FILTER (WHERE rating = 1), count(*) FILTER (WHERE rating = 2),
       count(*) FILTER (WHERE rating = 3), count(*) FILTER (WHERE rating = 4),
       count(*) FILTER (WHERE rating = 5)
FROM feedback WHERE {_RANGE} GROUP BY 1 ORDER BY 1"""

_TOTAL = f"SELECT count(*), avg(rating)::float8 FROM feedback WHERE {_RANGE}"

_SENTIMENT = f"""
SELECT date_trunc('day', created_at AT TIME ZONE $4) AS d,
       count(*) FILTER (WHERE sentiment = 'positive'),
       count(*) FILTER (WHERE sentiment = 'neutral'),
       count(*) FILTER (WHERE sentiment = 'negative'),
       count(*) FILTER (WHERE sentiment IS NULL),
       avg(sentiment_score) FILTER (WHERE sentiment IS NOT NULL)
FROM feedback WHERE {_RANGE} GROUP BY 1 ORDER BY 1"""

_THEMES = f"""
SELECT tag, count(*) AS n, avg(rating)::float8
FROM feedback, jsonb_array_elements_text(tags) AS tag
WHERE {_RANGE} AND sentiment = $4
GROUP BY tag ORDER BY n DESC, tag COLLATE "C" LIMIT 10"""

_DAILY = f"""
SELECT date_trunc('day', created_at AT TIME ZONE $4) AS d, count(*), count(DISTINCT user_id)
FROM feedback WHERE {_RANGE} GROUP BY 1 ORDER BY 1"""

_USERS = f"SELECT count(*), count(DISTINCT user_id) FROM feedback WHERE {_RANGE}"

_TOP = """
SELECT {col}, count(*) AS n, avg(rating)::float8 FROM feedback
WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $3 AND {col} IS NOT NULL
GROUP BY {col} ORDER BY n DESC, {col} LIMIT 10"""


async def _fetch(pool: asyncpg.Pool, sql: str, *args: Any) -> list[asyncpg.Record]:
    async with pool.acquire() as connection:
        return list(await connection.fetch(sql, *args))


async def ratings(
    pool: asyncpg.Pool, tenant: str, start: datetime, end: datetime, tz: str
) -> list[list[asyncpg.Record]]:
    previous = start - (end - start)
    return list(
        await asyncio.gather(
            _fetch(pool, _SERIES, tenant, start, end, tz),
            _fetch(pool, _TOTAL, tenant, previous, start),
        )
    )


async def sentiment(
    pool: asyncpg.Pool, tenant: str, start: datetime, end: datetime, tz: str
) -> list[list[asyncpg.Record]]:
    return list(
        await asyncio.gather(
            _fetch(pool, _SENTIMENT, tenant, start, end, tz),
            _fetch(pool, _THEMES, tenant, start, end, "positive"),
            _fetch(pool, _THEMES, tenant, start, end, "negative"),
        )
    )


async def usage(
    pool: asyncpg.Pool, tenant: str, start: datetime, end: datetime, tz: str
) -> list[list[asyncpg.Record]]:
    return list(
        await asyncio.gather(
            _fetch(pool, _DAILY, tenant, start, end, tz),
            _fetch(pool, _USERS, tenant, start, end),
            _fetch(pool, _TOP.format(col="agent_id"), tenant, start, end),
            _fetch(pool, _TOP.format(col="execution_id"), tenant, start, end),
        )
    )


async def export(
    pool: asyncpg.Pool, tenant: str, start: datetime, end: datetime, tz: str
) -> list[asyncpg.Record]:
    return await _fetch(pool, _SERIES, tenant, start, end, tz)
