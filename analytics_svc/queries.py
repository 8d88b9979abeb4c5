"""The ClickHouse SQL of the analytics views.

Every value from a request travels as a server-side bind parameter (``{name:Type}``);
the only text substituted here is the bucket expression, chosen from the fixed table
``_BUCKET`` by the granularity enum, never from request text.

Each aggregate reads the whole UTC hours of the range from an hourly rollup and the
partial hours at its ends (or the whole range, when rollups cannot answer exactly)
from ``feedback_events``, then sums both per bucket: ``UNION ALL`` of partial
aggregates with identical types, merged by an outer ``GROUP BY``.
"""

from __future__ import annotations

from analytics_svc.buckets import Grain

_BUCKET = {
    Grain.HOUR: "toUnixTimestamp(toStartOfHour({col}, {{tz:String}}))",
    Grain.DAY: "toDate({col}, {{tz:String}})",
    Grain.WEEK: "toMonday({col}, {{tz:String}})",
    Grain.MONTH: "toStartOfMonth({col}, {{tz:String}})",
    Grain.ALL: "toUInt8(0)",
}

_ROLLUP_WHERE = """
    tenant_id = {tenant:String}
    AND hour >= {rollup_start:DateTime64(6, 'UTC')} AND hour < {rollup_end:DateTime64(6, 'UTC')}
    AND ({feedback_type:String} = '' OR feedback_type = {feedback_type:String})"""

# The partial hours around the rollup range; with rollup_start = rollup_end = start
# this is the whole range [start, end).
_RAW_WHERE = """
    tenant_id = {tenant:String}
    AND ((created_at >= {start:DateTime64(6, 'UTC')}
          AND created_at < {rollup_start:DateTime64(6, 'UTC')})
      OR (created_at >= {rollup_end:DateTime64(6, 'UTC')}
          AND created_at < {end:DateTime64(6, 'UTC')}))
    AND ({feedback_type:String} = '' OR feedback_type = {feedback_type:String})
    AND ({agent_id:UInt64} = 0 OR agent_id = {agent_id:UInt64})
    AND ({execution_id:UInt64} = 0 OR execution_id = {execution_id:UInt64})
    AND ({chat_session_id:String} = '' OR chat_session_id = {chat_session_id:String})"""

MEASURE_COLUMNS = (
    "count",
    "rating_sum",
    "rating_1",
    "rating_2",
    "rating_3",
    "rating_4",
    "rating_5",
    "positive",
    "neutral",
    "negative",
    "no_comment",
    "scored_count",
    "sentiment_score_sum",
)

_MEASURES_SQL = """
SELECT k, sum(c), sum(rs), sum(r1), sum(r2), sum(r3), sum(r4), sum(r5),
       sum(pos), sum(neu), sum(neg), sum(noc), sum(sc), sum(ss)
FROM (
    SELECT {roll_bucket} AS k, sum(feedback_count) AS c, sum(rating_sum) AS rs,
           sum(rating_1) AS r1, sum(rating_2) AS r2, sum(rating_3) AS r3,
           sum(rating_4) AS r4, sum(rating_5) AS r5,
           sum(positive) AS pos, sum(neutral) AS neu, sum(negative) AS neg,
           sum(no_comment) AS noc, sum(scored_count) AS sc,
           sum(sentiment_score_sum) AS ss
    FROM feedback_hourly
    WHERE {rollup_where}
    GROUP BY k
    UNION ALL
    SELECT {raw_bucket} AS k, count() AS c, sum(toUInt64(rating)) AS rs,
           countIf(rating = 1) AS r1, countIf(rating = 2) AS r2, countIf(rating = 3) AS r3,
           countIf(rating = 4) AS r4, countIf(rating = 5) AS r5,
           countIf(sentiment = 'positive') AS pos, countIf(sentiment = 'neutral') AS neu,
           countIf(sentiment = 'negative') AS neg, countIf(sentiment = 'no_comment') AS noc,
           countIf(sentiment != 'no_comment') AS sc,
           sumIf(sentiment_score, sentiment != 'no_comment') AS ss
    FROM feedback_events
    WHERE {raw_where}
    GROUP BY k
)
GROUP BY k
"""

_USAGE_SQL = """
SELECT k, sum(c), uniqExactMerge(u)
FROM (
    SELECT {roll_bucket} AS k, sum(feedback_count) AS c, uniqExactMergeState(users) AS u
    FROM feedback_hourly
    WHERE {rollup_where}
    GROUP BY k
    UNION ALL
    SELECT {raw_bucket} AS k, count() AS c, uniqExactState(user_id) AS u
    FROM feedback_events
    WHERE {raw_where}
    GROUP BY k
)
GROUP BY k
"""

# Tags ranked by count within positive and within negative feedback, ties by tag
# (byte order, as Python's str order), with the rating sum for the average.
THEMES_SQL = f"""
SELECT s, tag, sum(c) AS total, sum(rs)
FROM (
    SELECT toString(sentiment) AS s, tag, sum(feedback_count) AS c, sum(rating_sum) AS rs
    FROM feedback_tags_hourly
    WHERE {_ROLLUP_WHERE} AND sentiment IN ('positive', 'negative')
    GROUP BY s, tag
    UNION ALL
    SELECT toString(sentiment) AS s, arrayJoin(tags) AS tag, count() AS c,
           sum(toUInt64(rating)) AS rs
    FROM feedback_events
    WHERE {_RAW_WHERE} AND sentiment IN ('positive', 'negative')
    GROUP BY s, tag
)
GROUP BY s, tag
ORDER BY s, total DESC, tag ASC
LIMIT {{top_n:UInt32}} BY s
"""

# The ordering key of feedback_events starts with tenant_id, so these read one tenant.
_TOP_SQL = """
SELECT {column} AS id, count() AS c, sum(toUInt64(rating)) AS rs
FROM feedback_events
WHERE tenant_id = {{tenant:String}}
  AND created_at >= {{start:DateTime64(6, 'UTC')}} AND created_at < {{end:DateTime64(6, 'UTC')}}
  AND ({{feedback_type:String}} = '' OR feedback_type = {{feedback_type:String}})
  AND {column} != 0
GROUP BY id
ORDER BY c DESC, id ASC
LIMIT {{top_n:UInt32}}
"""
TOP_AGENTS_SQL = _TOP_SQL.format(column="agent_id")
TOP_EXECUTIONS_SQL = _TOP_SQL.format(column="execution_id")


def _render(template: str, grain: Grain) -> str:
    bucket = _BUCKET[grain]
    return template.format(
        roll_bucket=bucket.format(col="hour"),
        raw_bucket=bucket.format(col="created_at"),
        rollup_where=_ROLLUP_WHERE,
        raw_where=_RAW_WHERE,
    )


MEASURES_SQL = {grain: _render(_MEASURES_SQL, grain) for grain in Grain}
USAGE_SQL = {grain: _render(_USAGE_SQL, grain) for grain in Grain}
