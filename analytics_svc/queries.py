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

from analytics_svc.buckets import Grain

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
_ROLLUP_HOURS = """
    (hour >= {rollup_start_hour:DateTime('UTC')} AND hour < {rollup_end_hour:DateTime('UTC')})"""
# The partial hours around the rollup range; with rollup_start = rollup_end = start
# this is the whole range [start, end).
_RAW_TIMES = """
    ((created_at >= {start:DateTime64(6, 'UTC')}
      AND created_at < {rollup_start:DateTime64(6, 'UTC')})
     OR (created_at >= {rollup_end:DateTime64(6, 'UTC')}
      AND created_at < {end:DateTime64(6, 'UTC')}))"""
_TARGETS = """
    AND ({agent_id:UInt64} = 0 OR agent_id = {agent_id:UInt64})
    AND ({execution_id:UInt64} = 0 OR execution_id = {execution_id:UInt64})
    AND ({chat_session_id:String} = '' OR chat_session_id = {chat_session_id:String})"""
# The previous period (for trends) reads the same way with its own range parameters.
_PREVIOUS = {
    "{start:": "{previous_start:",
    "{end:": "{previous_end:",
    "{rollup_start:": "{previous_rollup_start:",
    "{rollup_end:": "{previous_rollup_end:",
    "{rollup_start_hour:": "{previous_rollup_start_hour:",
    "{rollup_end_hour:": "{previous_rollup_end_hour:",
}


def _previous(where: str) -> str:
    for name, renamed in _PREVIOUS.items():
        where = where.replace(name, renamed)
    return where


@dataclasses.dataclass(frozen=True, slots=True)
class Shape:
    """Which filters a request sets: picks the query text (never request text)."""

    typed: bool = False  # feedback_type filter
    targets: bool = False  # agent / execution / chat session filters


def _tenant_and_type(shape: Shape) -> str:
    return _TENANT + (_TYPE if shape.typed else "")


def _rollup_where(shape: Shape, trend: bool = False) -> str:
    hours = f"({_ROLLUP_HOURS} OR {_previous(_ROLLUP_HOURS)})" if trend else _ROLLUP_HOURS
    return f"{_tenant_and_type(shape)}\n    AND {hours}"


def _raw_where(shape: Shape, trend: bool = False) -> str:
    times = f"({_RAW_TIMES} OR {_previous(_RAW_TIMES)})" if trend else _RAW_TIMES
    return f"{_tenant_and_type(shape)}\n    AND {times}" + (_TARGETS if shape.targets else "")


# Each measure: (merge over the hourly rollup, aggregate over raw events). Every one is a
# count or a sum, so partial results add up exactly across the UNION ALL.
MEASURES = {
    "count": ("sum(feedback_count)", "count()"),
    "rating_sum": ("sum(rating_sum)", "sum(toUInt64(rating))"),
    **{f"rating_{r}": (f"sum(rating_{r})", f"countIf(rating = {r})") for r in range(1, 6)},
    **{s: (f"sum({s})", f"countIf(sentiment = '{s}')")
       for s in ("positive", "neutral", "negative", "no_comment")},
    "scored_count": ("sum(scored_count)", "countIf(sentiment != 'no_comment')"),
    # No-comment rows carry score 0 (ingest guarantees it), so sum == sumIf.
    "sentiment_score_sum": (
        "sum(sentiment_score_sum)", "sumIf(sentiment_score, sentiment != 'no_comment')"
    ),
}  # fmt: skip
MEASURE_COLUMNS = tuple(MEASURES)
# Each view reads only the columns it needs: rollup reads cost per column.
MEASURE_SETS = {
    "ratings": ("count", "rating_sum", *(f"rating_{r}" for r in range(1, 6))),
    "sentiment": ("positive", "neutral", "negative", "no_comment", "scored_count",
                  "sentiment_score_sum"),
}  # fmt: skip

Parts = tuple[bool, bool]  # (read the hourly rollup?, read raw events?)


def _union(parts: Parts, rollup: str, raw: str) -> str:
    """Only the branches a range needs: a query's fixed cost is per branch."""
    return "\n    UNION ALL\n".join(
        sql for sql, used in zip((rollup, raw), parts, strict=True) if used
    )


@functools.cache
def measures_sql(which: str, grain: Grain, parts: Parts, trend: bool, shape: Shape) -> str:
    """Rows (p, k, measures...): p = 1 per bucket of the range. With ``trend``, the same
    scans also cover the previous period (before ``start``): its p = 0 rows (any k) add up
    to its totals. One query, one scan per table: per-query cost dominates here. The
    branches' rows are partial sums (a bucket may come from both tables): the caller adds
    rows of equal (p, k) exactly; an outer GROUP BY here costs more than it saves."""
    columns = MEASURE_SETS[which]
    rollup = ", ".join(f"{MEASURES[c][0]} AS m{i}" for i, c in enumerate(columns))
    raw = ", ".join(f"{MEASURES[c][1]} AS m{i}" for i, c in enumerate(columns))
    start = "{start:DateTime64(6, 'UTC')}"
    # Rollup hours of the range start at or after `start`, the previous period's before.
    rollup_p = f"toUInt8(hour >= {start})" if trend else "toUInt8(1)"
    raw_p = f"toUInt8(created_at >= {start})" if trend else "toUInt8(1)"
    sql = _union(
        parts,
        f"""SELECT {rollup_p} AS p, {{roll_bucket}} AS k, {rollup}
FROM feedback_hourly WHERE {_rollup_where(shape, trend)} GROUP BY p, k""",
        f"""SELECT {raw_p} AS p, {{raw_bucket}} AS k, {raw}
FROM feedback_events WHERE {_raw_where(shape, trend)} GROUP BY p, k""",
    )
    return _render(sql, grain)


# Per-bucket submissions and distinct users, plus (grouping(k) = 1) the whole range:
# distinct users do not add across buckets, so the total merges the same states again.
@functools.cache
def usage_sql(grain: Grain, parts: Parts, shape: Shape) -> str:
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
    return _render(sql, grain, shape)


# Tags ranked by count within positive and within negative feedback, ties by tag
# (byte order, as Python's str order), with the rating sum for the average.
@functools.cache
def themes_sql(parts: Parts, shape: Shape) -> str:
    branches = _union(
        parts,
        f"""    SELECT toString(sentiment) AS s, tag, sum(feedback_count) AS c,
           sum(rating_sum) AS rs
    FROM feedback_tags_hourly
    WHERE {_rollup_where(shape)} AND sentiment IN ('positive', 'negative')
    GROUP BY s, tag""",
        f"""    SELECT toString(sentiment) AS s, arrayJoin(tags) AS tag, count() AS c,
           sum(toUInt64(rating)) AS rs
    FROM feedback_events
    WHERE {_raw_where(shape)} AND sentiment IN ('positive', 'negative')
    GROUP BY s, tag""",
    )
    return f"""SELECT s, tag, sum(c) AS total, sum(rs)
FROM (
{branches}
)
GROUP BY s, tag
ORDER BY s, total DESC, tag ASC
LIMIT {{top_n:UInt32}} BY s"""


# Most rated agents and executions in one scan (the ordering key of feedback_events
# starts with tenant_id, so it reads one tenant's range); ties by id.
@functools.cache
def top_targets_sql(shape: Shape) -> str:
    return f"""
SELECT kind, id, count() AS c, sum(toUInt64(rating))
FROM feedback_events
ARRAY JOIN [agent_id, execution_id] AS id, ['agent', 'execution'] AS kind
WHERE {_tenant_and_type(shape)}
  AND created_at >= {{start:DateTime64(6, 'UTC')}} AND created_at < {{end:DateTime64(6, 'UTC')}}
  AND (agent_id != 0 OR execution_id != 0)
  AND id != 0
GROUP BY kind, id
ORDER BY kind, c DESC, id ASC
LIMIT {{top_n:UInt32}} BY kind
"""


def _render(template: str, grain: Grain, shape: Shape = Shape()) -> str:
    # Plain replacement: the templates also hold {name:Type} bind parameters.
    bucket = _BUCKET[grain]
    for name, text in (
        ("{roll_bucket}", bucket.format(col="hour")),
        ("{raw_bucket}", bucket.format(col="created_at")),
        ("{rollup_where}", _rollup_where(shape)),
        ("{raw_where}", _raw_where(shape)),
    ):
        template = template.replace(name, text)
    return template
