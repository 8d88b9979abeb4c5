"""Exactness checks: ClickHouse rows and rollups vs the same GROUP BY over PostgreSQL.

Plain functions (no pytest) so the SIGKILL test's subprocess can dump its own chDB
directory with them. Values are normalized to JSON-able primitives.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import asyncpg

from mesh_runtime.postgres import libpq_url

Snapshot = dict[str, Any]

_RATING_COLS = [f"rating_{i}" for i in range(1, 6)]
_SUM_COLS = [
    "feedback_count", "rating_sum", *_RATING_COLS,
    "positive", "neutral", "negative", "no_comment", "scored_count",
]  # fmt: skip


def _iso(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


async def pg_snapshot(dsn: str, tenants: list[str]) -> Snapshot:
    """Rows of ``feedback`` that are complete (released), and the rollups' GROUP BYs."""
    conn = await asyncpg.connect(libpq_url(dsn))
    try:
        records = await conn.fetch(
            """SELECT id, tenant_id, user_id, feedback_type, coalesce(execution_id, 0) AS e,
                      coalesce(agent_id, 0) AS a, coalesce(chat_session_id, '') AS c, rating,
                      coalesce(sentiment, 'no_comment') AS s, coalesce(sentiment_score, 0) AS sc,
                      sentiment_status, tags::text AS tags, created_at
               FROM feedback WHERE tenant_id = ANY($1::text[])
                 AND sentiment_status <> 'pending'""",
            tenants,
        )
    finally:
        await conn.close()
    rows = [
        [r["id"], r["tenant_id"], r["user_id"], r["feedback_type"], r["e"], r["a"], r["c"],
         r["rating"], r["s"], float(r["sc"]), json.loads(r["tags"]), _iso(r["created_at"])]
        for r in records
    ]  # fmt: skip
    return snapshot_from_rows(rows)


def snapshot_from_rows(rows: list[list[Any]]) -> Snapshot:
    """The GROUP BYs every rollup must equal, computed from raw rows (PostgreSQL's)."""
    hourly: dict[tuple[str, str, str], dict[str, Any]] = {}
    users: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    tags: dict[tuple[str, str, str, str, str], list[int]] = {}
    for _id, tenant, user, kind, _e, _a, _c, rating, sentiment, score, row_tags, created in rows:
        hour = created[:13] + ":00:00"
        key = (tenant, hour, kind)
        h = hourly.setdefault(key, {c: 0 for c in _SUM_COLS} | {"sentiment_score_sum": 0.0})
        h["feedback_count"] += 1
        h["rating_sum"] += rating
        h[f"rating_{rating}"] += 1
        h[sentiment] += 1
        h["scored_count"] += sentiment != "no_comment"
        h["sentiment_score_sum"] += score
        users[key].add(user)
        for tag in row_tags:
            t = tags.setdefault((tenant, hour, kind, sentiment, tag), [0, 0])
            t[0] += 1
            t[1] += rating
    daily: dict[str, set[str]] = defaultdict(set)
    for key, h in hourly.items():
        h["users"] = len(users[key])
        daily[f"{key[0]}|{key[1][:10]}|{key[2]}"] |= users[key]
    return {
        "daily_users": {k: len(v) for k, v in sorted(daily.items())},
        "rows": sorted(rows),
        "hourly": {"|".join(k): v for k, v in sorted(hourly.items())},
        "tags": {"|".join(k): v for k, v in sorted(tags.items())},
    }


def clickhouse_snapshot(client: Any, database: str, tenants: list[str]) -> Snapshot:
    params = {"tenants": tenants}
    result = client.query(
        f"""SELECT feedback_id, tenant_id, user_id, toString(feedback_type), execution_id,
                   agent_id, chat_session_id, rating, toString(sentiment), sentiment_score, tags,
                   formatDateTime(created_at, '%Y-%m-%dT%H:%i:%S.%f')
            FROM `{database}`.feedback_events WHERE tenant_id IN {{tenants:Array(String)}}""",
        parameters=params,
    )
    rows = [list(r) for r in result.result_rows]
    for row in rows:
        row[11] = row[11][:26]
    hourly_cols = ", ".join(f"sum({c})" for c in _SUM_COLS)
    hourly = client.query(
        f"""SELECT tenant_id, formatDateTime(hour, '%Y-%m-%dT%H:00:00'), toString(feedback_type),
                   {hourly_cols}, sum(sentiment_score_sum), uniqExactMerge(users)
            FROM `{database}`.feedback_hourly WHERE tenant_id IN {{tenants:Array(String)}}
            GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""",
        parameters=params,
    ).result_rows
    tags = client.query(
        f"""SELECT tenant_id, formatDateTime(hour, '%Y-%m-%dT%H:00:00'), toString(feedback_type),
                   toString(sentiment), tag, sum(feedback_count), sum(rating_sum)
            FROM `{database}`.feedback_tags_hourly WHERE tenant_id IN {{tenants:Array(String)}}
            GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5""",
        parameters=params,
    ).result_rows
    daily = client.query(
        f"""SELECT tenant_id, toString(toDate(hour)), toString(feedback_type), uniqExactMerge(users)
            FROM `{database}`.feedback_hourly WHERE tenant_id IN {{tenants:Array(String)}}
            GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""",
        parameters=params,
    ).result_rows
    return {
        "daily_users": {"|".join(r[:3]): r[3] for r in daily},
        "rows": sorted(rows),
        "hourly": {
            "|".join(r[:3]): dict(
                zip([*_SUM_COLS, "sentiment_score_sum", "users"], r[3:], strict=True)
            )
            for r in hourly
        },
        "tags": {"|".join(r[:5]): [r[5], r[6]] for r in tags},
    }


def assert_exact(clickhouse: Snapshot, postgres: Snapshot) -> None:
    ch_ids = [r[0] for r in clickhouse["rows"]]
    pg_ids = [r[0] for r in postgres["rows"]]
    assert len(ch_ids) == len(set(ch_ids)), "duplicate feedback ids in ClickHouse"
    assert set(pg_ids) - set(ch_ids) == set(), "feedback missing from ClickHouse"
    assert set(ch_ids) - set(pg_ids) == set(), "unknown feedback in ClickHouse"
    assert clickhouse["rows"] == postgres["rows"]
    assert clickhouse["hourly"].keys() == postgres["hourly"].keys()
    for key, expected in postgres["hourly"].items():
        got = clickhouse["hourly"][key]
        for column in [*_SUM_COLS, "users"]:
            assert got[column] == expected[column], (key, column)
        assert abs(got["sentiment_score_sum"] - expected["sentiment_score_sum"]) < 1e-9, key
        # The averages a dashboard shows, from sums and counts.
        assert abs(
            got["rating_sum"] / got["feedback_count"]
            - expected["rating_sum"] / expected["feedback_count"]
        ) < 1e-9  # fmt: skip
    assert clickhouse["tags"] == postgres["tags"]
    # uniqExact states merged across hours: exact distinct users per day.
    assert clickhouse["daily_users"] == postgres["daily_users"]
