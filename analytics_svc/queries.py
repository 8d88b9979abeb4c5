"""The ClickHouse SQL of the analytics views.

Every value from a request travels as a server-side bind parameter (``{name:Type}``);
the only text substituted here is the bucket expression, chosen from the fixed table
``_BUCKET`` by the granularity enum, never from request text.

Each aggregate reads the whole UTC hours of the range from an hourly rollup and the
partial hours at its ends (or the whole range, when rollups cannot answer exactly)
from ``feedback_events``, then sums both per bucket: ``UNION ALL`` of partial
aggregates with identical types, merged by an outer ``GROUP BY`` (or, for the additive
measures, by the repository in Python: cheaper than the outer query in chDB).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable
from datetime import UTC, datetime

from analytics_svc.buckets import Grain, Split

_BUCKET = {
    Grain.HOUR: "toUnixTimestamp(toStartOfHour({col}, {{tz:String}}))",
    Grain.DAY: "toDate({col}, {{tz:String}})",
    Grain.WEEK: "toMonday({col}, {{tz:String}})",
    Grain.MONTH: "toStartOfMonth({col}, {{tz:String}})",
}

_TENANT = """
    tenant_id = {tenant:String}"""
# Included only when the request sets the filter (the template is chosen by that flag, the
# value stays a bind parameter): unused filters cost query analysis time on every call.
_TYPE = """
    AND feedback_type = {feedback_type:String}"""
_TARGETS = """
    AND ({agent_id:UInt64} = 0 OR agent_id = {agent_id:UInt64})
    AND ({execution_id:UInt64} = 0 OR execution_id = {execution_id:UInt64})
    AND ({chat_session_id:String} = '' OR chat_session_id = {chat_session_id:String})"""


@dataclasses.dataclass(frozen=True, slots=True)
class Shape:
    """Which filters a request sets: picks the query text (never request text)."""

    typed: bool = False  # feedback_type filter
    targets: bool = False  # agent / execution / chat session filters


def _tenant_and_type(shape: Shape) -> str:
    return _TENANT + (_TYPE if shape.typed else "")


# The ranges a query reads, as (hour ranges from the rollup, time ranges from raw events):
# their counts pick the query text, their bounds are bind parameters h<i>_lo / h<i>_hi
# (whole UTC hours) and t<i>_lo / t<i>_hi. `reads` drops empty ranges and joins adjacent
# ones (a trend's previous period ends where the range starts): each range is one more OR
# term to analyze and to check against the index.
Parts = tuple[int, int]
Range = tuple[datetime, datetime]


def ts(instant: datetime) -> str:
    """A DateTime64(6, 'UTC') bind value."""
    return instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _hour(instant: datetime) -> str:
    # Whole hours, compared with the rollups' DateTime key.
    return instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _merged(ranges: Iterable[Range]) -> list[Range]:
    """Non-empty half-open ranges, sorted, adjacent or overlapping ones joined."""
    out: list[Range] = []
    for low, high in sorted(r for r in ranges if r[0] < r[1]):
        if out and low <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], high))
        else:
            out.append((low, high))
    return out


def reads(*splits: Split) -> tuple[Parts, dict[str, str]]:
    """What the splits read: the whole UTC hours [rollup_start, rollup_end) from the rollup
    and the rest of [start, end) from raw events, as merged ranges: their counts (the query
    shape) and their bounds (bind parameters)."""
    hours = _merged((s.rollup_start, s.rollup_end) for s in splits)
    times = _merged(r for s in splits for r in ((s.start, s.rollup_start), (s.rollup_end, s.end)))
    params: dict[str, str] = {}
    for i, (low, high) in enumerate(hours):
        params |= {f"h{i}_lo": _hour(low), f"h{i}_hi": _hour(high)}
    for i, (low, high) in enumerate(times):
        params |= {f"t{i}_lo": ts(low), f"t{i}_hi": ts(high)}
    return (len(hours), len(times)), params


def _ranges(column: str, type_: str, prefix: str, count: int) -> str:
    terms = [
        f"({column} >= {{{prefix}{i}_lo:{type_}}} AND {column} < {{{prefix}{i}_hi:{type_}}})"
        for i in range(count)
    ]
    return "(" + "\n     OR ".join(terms) + ")"


def _rollup_where(shape: Shape, parts: Parts) -> str:
    hours = _ranges("hour", "DateTime('UTC')", "h", parts[0])
    return f"{_tenant_and_type(shape)}\n    AND {hours}"


def _raw_where(shape: Shape, parts: Parts) -> str:
    times = _ranges("created_at", "DateTime64(6, 'UTC')", "t", parts[1])
    return f"{_tenant_and_type(shape)}\n    AND {times}" + (_TARGETS if shape.targets else "")


# What each view reads. Rollup rows carry the per-hour sums of these columns. Raw rows are
# grouped by a small key g instead (rating 1..5, or 1 + the sentiment code) with only a
# count and a score sum: one aggregate instead of one countIf per measure, which costs
# less analysis and execution per branch. Counts that other columns imply are
# derived in the repository, exactly: every rating is 1..5 (feedback and ingest validate
# it), so count = sum of rating_r and rating_sum = sum of r * rating_r; sentiment has four
# values, so scored_count = positive + neutral + negative. No-comment rows carry score 0.
MEASURE_SETS = {
    "ratings": ("rating_1", "rating_2", "rating_3", "rating_4", "rating_5"),
    "sentiment": ("positive", "neutral", "negative", "no_comment", "sentiment_score_sum"),
}
_RAW_GROUP = {"ratings": "rating", "sentiment": "toUInt8(sentiment) + 1"}
_RAW_SCORE = {"ratings": "0", "sentiment": "sum(sentiment_score)"}


def _union(parts: Parts, rollup: str, raw: str) -> str:
    """Only the branches the ranges need: a query's fixed cost is per branch."""
    return "\n    UNION ALL\n".join(
        sql for sql, used in zip((rollup, raw), parts, strict=True) if used
    )


@functools.cache
def measures_sql(which: str, grain: Grain, parts: Parts, trend: bool, shape: Shape) -> str:
    """Rows (p, k, g, m0..m4): p = 1 per bucket of the range. With ``trend``, the same
    scans also cover the previous period (before ``start``): its p = 0 rows (any k) add up
    to its totals. Rollup rows have g = 0 and m0..m4 = the sums of MEASURE_SETS[which];
    raw rows have g >= 1 (see _RAW_GROUP), m0 = their count and m4 = their score sum.
    One query, one scan per table: per-query cost dominates here. A bucket may have rows
    from both tables: the caller adds them exactly; an outer GROUP BY here costs more than
    it saves."""
    sums = ", ".join(f"sum({c}) AS m{i}" for i, c in enumerate(MEASURE_SETS[which]))
    start = "{start:DateTime64(6, 'UTC')}"
    # Rollup hours of the range start at or after `start`, the previous period's before.
    rollup_p = f"toUInt8(hour >= {start})" if trend else "toUInt8(1)"
    raw_p = f"toUInt8(created_at >= {start})" if trend else "toUInt8(1)"
    sql = _union(
        parts,
        f"""SELECT {rollup_p} AS p, {{roll_bucket}} AS k, toUInt8(0) AS g, {sums}
FROM feedback_hourly WHERE {_rollup_where(shape, parts)} GROUP BY p, k""",
        f"""SELECT {raw_p} AS p, {{raw_bucket}} AS k, {_RAW_GROUP[which]} AS g, count() AS m0,
       0 AS m1, 0 AS m2, 0 AS m3, {_RAW_SCORE[which]} AS m4
FROM feedback_events WHERE {_raw_where(shape, parts)} GROUP BY p, k, g""",
    )
    return _render(sql, grain, parts)


# Per-bucket submissions and distinct users, plus (grouping(k) = 1) the whole range:
# distinct users do not add across buckets, so the total merges the same states again.
@functools.cache
def usage_sql(grain: Grain, parts: Parts, shape: Shape) -> str:
    if not parts[1]:
        # Rollup only (whole-hour range ends): one flat GROUPING SETS over the hourly
        # states. The union form below merges every state twice more (uniqExactMergeState
        # into per-bucket states, then again per bucket and for the total); deserializing
        # and merging the states is most of this query's cost.
        sql = """SELECT {roll_bucket} AS k, grouping(k), sum(feedback_count), uniqExactMerge(users)
FROM feedback_hourly WHERE {rollup_where}
GROUP BY GROUPING SETS ((k), ())"""
        return _render(sql, grain, parts, shape)
    branches = _union(
        parts,
        """    SELECT {roll_bucket} AS k, sum(feedback_count) AS c, uniqExactMergeState(users) AS u
    FROM feedback_hourly WHERE {rollup_where} GROUP BY k""",
        """    SELECT {raw_bucket} AS k, count() AS c, uniqExactState(user_id) AS u
    FROM feedback_events WHERE {raw_where} GROUP BY k""",
    )
    sql = f"""SELECT k, grouping(k), sum(c), uniqExactMerge(u)
FROM (
{branches}
)
GROUP BY GROUPING SETS ((k), ())"""
    return _render(sql, grain, parts, shape)


# Tags ranked by count within positive and within negative feedback, ties by tag
# (byte order, as Python's str order), with the rating sum for the average. A range read
# from one table alone (whole-hour ends: the rollup; otherwise often raw events only)
# ranks in that one SELECT: no outer query re-aggregating a single branch.
_THEMES_RANK = """
ORDER BY s, {count} DESC, tag ASC
LIMIT {{top_n:UInt32}} BY s"""


@functools.cache
def themes_sql(parts: Parts, shape: Shape) -> str:
    rollup = f"""SELECT toString(sentiment) AS s, tag, sum(feedback_count) AS c,
       sum(rating_sum) AS rs
FROM feedback_tags_hourly
WHERE {_rollup_where(shape, parts)} AND sentiment IN ('positive', 'negative')
GROUP BY s, tag"""
    raw = f"""SELECT toString(sentiment) AS s, arrayJoin(tags) AS tag, count() AS c,
       sum(toUInt64(rating)) AS rs
FROM feedback_events
WHERE {_raw_where(shape, parts)} AND sentiment IN ('positive', 'negative')
GROUP BY s, tag"""
    if not (parts[0] and parts[1]):
        return (rollup if parts[0] else raw) + _THEMES_RANK.format(count="c")
    branches = _union(parts, rollup, raw)
    return f"""SELECT s, tag, sum(c) AS total, sum(rs)
FROM (
{branches}
)
GROUP BY s, tag""" + _THEMES_RANK.format(count="total")


# Most rated agents and executions in one scan (the ordering key of feedback_events
# starts with tenant_id, so it reads one tenant's range); ties by id. One GROUPING SETS
# aggregation rather than an ARRAY JOIN of both ids (which doubles the rows to filter and
# group). In the (agent_id) set execution_id is 0 and in the
# (execution_id) set agent_id is 0, so `agent_id != 0` tells the sets apart, and HAVING
# drops each set's "no such target" group.
@functools.cache
def top_targets_sql(shape: Shape) -> str:
    return f"""
SELECT agent_id != 0 AS is_agent, agent_id + execution_id AS id, count() AS c,
       sum(toUInt64(rating))
FROM feedback_events
WHERE {_tenant_and_type(shape)}
  AND created_at >= {{start:DateTime64(6, 'UTC')}} AND created_at < {{end:DateTime64(6, 'UTC')}}
  AND (agent_id != 0 OR execution_id != 0){_TARGETS if shape.targets else ""}
GROUP BY GROUPING SETS ((agent_id), (execution_id))
HAVING id != 0
ORDER BY is_agent, c DESC, id ASC
LIMIT {{top_n:UInt32}} BY is_agent
"""


def _render(template: str, grain: Grain, parts: Parts, shape: Shape = Shape()) -> str:
    # Plain replacement: the templates also hold {name:Type} bind parameters.
    bucket = _BUCKET[grain]
    for name, text in (
        ("{roll_bucket}", bucket.format(col="hour")),
        ("{raw_bucket}", bucket.format(col="created_at")),
        ("{rollup_where}", _rollup_where(shape, parts)),
        ("{raw_where}", _raw_where(shape, parts)),
    ):
        template = template.replace(name, text)
    return template
