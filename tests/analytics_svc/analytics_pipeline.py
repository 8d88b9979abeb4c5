"""Helpers of the pipeline exactness test: servers, random submissions, and the expected
numbers computed by SQL over PostgreSQL (the truth)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import pytest

from feedbackmesh.analytics.v1 import analytics_pb2 as pb
from feedbackmesh.feedback.v1 import feedback_pb2
from mesh_app.local import LocalMesh

COMMENTS = (
    None,
    None,
    "Great answer, fast and really helpful. I love it!",
    "Excellent work, wonderful and accurate.",
    "Terrible. Slow, wrong and useless, I hate this.",
    "This was awful and broken, a horrible experience.",
    "The agent ran on Tuesday.",
    "It produced a table with three columns.",
)
TAGS = ("speed", "accuracy", "tone", "format", "cost", "ux", "docs", "latency")
TYPES = (
    feedback_pb2.FEEDBACK_TYPE_EXECUTION,
    feedback_pb2.FEEDBACK_TYPE_AGENT,
    feedback_pb2.FEEDBACK_TYPE_CHAT,
    feedback_pb2.FEEDBACK_TYPE_GENERAL,
)


class Servers(LocalMesh):
    """The pipeline's servers, started in this process (names as in ``feedbackmesh serve``)."""


async def backdate(
    db: asyncpg.Connection, ids: list[int], rnd: random.Random, now: datetime, days: int
) -> None:
    """Test only: spread the rows' created_at over ``days`` before the ingest worker reads
    them. Released events carry their payload as of release; it is dropped so that the pull
    rebuilds each event from the (back-dated) feedback row."""
    stamps = [now - timedelta(microseconds=rnd.randrange(days * 86_400_000_000)) for _ in ids]
    await db.execute(
        "UPDATE feedback f SET created_at = v.ts "
        "FROM unnest($1::bigint[], $2::timestamptz[]) AS v(id, ts) WHERE f.id = v.id",
        ids,
        stamps,
    )
    await db.execute(
        "UPDATE feedback_outbox SET payload = NULL WHERE feedback_id = ANY($1::bigint[])", ids
    )


def random_submission(rnd: random.Random, index: int) -> feedback_pb2.SubmitFeedbackRequest:
    kind = rnd.choice(TYPES)
    request = feedback_pb2.SubmitFeedbackRequest(
        request_id=f"analytics-{index}",
        feedback_type=kind,
        rating=rnd.randint(1, 5),
        tags=rnd.sample(TAGS, rnd.randint(0, 3)),
    )
    if kind == feedback_pb2.FEEDBACK_TYPE_EXECUTION:
        request.execution_id = rnd.randint(1, 25)
    elif kind == feedback_pb2.FEEDBACK_TYPE_AGENT:
        request.agent_id = rnd.randint(1, 25)
    elif kind == feedback_pb2.FEEDBACK_TYPE_CHAT:
        request.chat_session_id = f"chat-{rnd.randint(1, 9)}"
    comment = rnd.choice(COMMENTS)
    if comment is not None:
        request.comment = comment
    return request


_PG_BUCKET = {"hour": "YYYY-MM-DD HH24:00", "day": "YYYY-MM-DD", "week": "YYYY-MM-DD",
              "month": "YYYY-MM-DD"}  # fmt: skip

_WHERE = """
tenant_id = $1 AND created_at >= $2 AND created_at < $3
AND ($4 = '' OR feedback_type = $4) AND ($5::bigint = 0 OR agent_id = $5)
AND ($6::bigint[] IS NULL OR id = ANY($6::bigint[]))"""


@dataclass(frozen=True)
class Case:
    tenant: str
    start: datetime
    end: datetime
    grain: str  # hour | day | week | month (PostgreSQL date_trunc units)
    tz: str
    feedback_type: str = ""
    agent_id: int = 0
    # Only these feedback ids (None: all), e.g. the rows of one data version.
    ids: tuple[int, ...] | None = None

    def args(self) -> tuple[Any, ...]:
        ids = list(self.ids) if self.ids is not None else None
        return self.tenant, self.start, self.end, self.feedback_type, self.agent_id, ids


async def pg_series(db: asyncpg.Connection, case: Case) -> list[asyncpg.Record]:
    """Per non-empty local bucket: label, count, rating sum and avg, sentiment counts and
    avg score (over feedback with a comment)."""
    sql = f"""
    SELECT to_char(date_trunc($7, created_at AT TIME ZONE $8), '{_PG_BUCKET[case.grain]}') AS d,
           count(*) AS n, sum(rating) AS rating_sum, avg(rating)::float8 AS avg_rating,
           count(*) FILTER (WHERE sentiment = 'positive') AS positive,
           count(*) FILTER (WHERE sentiment = 'neutral') AS neutral,
           count(*) FILTER (WHERE sentiment = 'negative') AS negative,
           count(*) FILTER (WHERE sentiment IS NULL) AS no_comment,
           coalesce(avg(sentiment_score) FILTER (WHERE sentiment IS NOT NULL), 0)::float8
               AS avg_score
    FROM feedback WHERE {_WHERE}
    GROUP BY 1 ORDER BY 1"""
    return list(await db.fetch(sql, *case.args(), case.grain, case.tz))


async def pg_totals(
    db: asyncpg.Connection, case: Case, start: datetime, end: datetime
) -> asyncpg.Record:
    sql = f"""
    SELECT count(*) AS n, coalesce(avg(rating), 0)::float8 AS avg_rating,
           count(*) FILTER (WHERE sentiment = 'positive') AS positive,
           count(*) FILTER (WHERE sentiment = 'neutral') AS neutral,
           count(*) FILTER (WHERE sentiment = 'negative') AS negative,
           count(*) FILTER (WHERE sentiment IS NULL) AS no_comment,
           coalesce(avg(sentiment_score) FILTER (WHERE sentiment IS NOT NULL), 0)::float8
               AS avg_score,
           count(*) FILTER (WHERE rating = 1) AS r1, count(*) FILTER (WHERE rating = 2) AS r2,
           count(*) FILTER (WHERE rating = 3) AS r3, count(*) FILTER (WHERE rating = 4) AS r4,
           count(*) FILTER (WHERE rating = 5) AS r5
    FROM feedback WHERE {_WHERE}"""
    _, _, _, *filters = case.args()
    row = await db.fetchrow(sql, case.tenant, start, end, *filters)
    assert row is not None
    return row


async def pg_themes(
    db: asyncpg.Connection, case: Case, sentiment: str, top_n: int
) -> list[asyncpg.Record]:
    # Tags rank by count, ties by tag in byte order (COLLATE "C"), like the service.
    sql = f"""
    SELECT tag, count(*) AS n, avg(rating)::float8 AS avg_rating
    FROM feedback, jsonb_array_elements_text(tags) AS tag
    WHERE {_WHERE} AND sentiment = $7
    GROUP BY tag ORDER BY count(*) DESC, tag COLLATE "C" LIMIT $8"""
    return list(await db.fetch(sql, *case.args(), sentiment, top_n))


# The usage period: the n local days ending with the day of (end - 1 microsecond).
_USAGE_WHERE = """
tenant_id = $1
AND (created_at AT TIME ZONE $2)::date
    BETWEEN ((($3::timestamptz - interval '1 microsecond') AT TIME ZONE $2)::date - ($4 - 1))
        AND (($3::timestamptz - interval '1 microsecond') AT TIME ZONE $2)::date"""


async def _pg_usage(
    db: asyncpg.Connection,
    where: str,
    args: tuple[Any, ...],
    bucket: str,
    bucket_args: tuple[Any, ...],
    top_n: int,
) -> dict[str, Any]:
    """Per non-empty bucket (``bucket`` takes ``bucket_args`` after ``args``), the totals
    (distinct users over the whole range) and the top agents and executions."""
    buckets = await db.fetch(
        f"""SELECT {bucket} AS d, count(*) AS n, count(DISTINCT user_id) AS users
            FROM feedback WHERE {where} GROUP BY 1 ORDER BY 1""",
        *args,
        *bucket_args,
    )
    totals = await db.fetchrow(
        f"SELECT count(*) AS n, count(DISTINCT user_id) AS users FROM feedback WHERE {where}",
        *args,
    )
    tops = {}
    for column in ("agent_id", "execution_id"):
        tops[column] = await db.fetch(
            f"""SELECT {column}::text AS id, count(*) AS n, avg(rating)::float8 AS avg_rating
                FROM feedback WHERE {where} AND {column} IS NOT NULL
                GROUP BY {column} ORDER BY count(*) DESC, {column} LIMIT ${len(args) + 1}""",
            *args,
            top_n,
        )
    return {"buckets": buckets, "totals": totals, **tops}


async def pg_usage(
    db: asyncpg.Connection, tenant: str, tz: str, end: datetime, days: int, top_n: int
) -> dict[str, Any]:
    """Usage trends over the ``days`` local days ending with the day of ``end``, daily."""
    day = "to_char((created_at AT TIME ZONE $2)::date, 'YYYY-MM-DD')"
    return await _pg_usage(db, _USAGE_WHERE, (tenant, tz, end, days), day, (), top_n)


async def pg_usage_range(db: asyncpg.Connection, case: Case, top_n: int) -> dict[str, Any]:
    """Usage trends over the case's range, in the case's buckets."""
    bucket = f"to_char(date_trunc($7, created_at AT TIME ZONE $8), '{_PG_BUCKET[case.grain]}')"
    return await _pg_usage(db, _WHERE, case.args(), bucket, (case.grain, case.tz), top_n)


async def check_ratings(
    db: asyncpg.Connection, case: Case, ratings: pb.GetRatingsAnalyticsResponse
) -> None:
    """Every number of a ratings answer equals PostgreSQL's over the case."""
    expected = await pg_series(db, case)
    labels = [p.date for p in ratings.series]
    assert labels == sorted(labels) and len(set(labels)) == len(labels), case
    got = [p for p in ratings.series if p.count]
    assert [(p.date, p.count, p.rating_sum) for p in got] == [
        (r["d"], r["n"], r["rating_sum"]) for r in expected
    ], case
    assert [p.avg_rating for p in got] == pytest.approx(
        [r["avg_rating"] for r in expected], abs=1e-9
    )
    totals = await pg_totals(db, case, case.start, case.end)
    assert ratings.total_count == totals["n"], case
    assert ratings.avg_rating == pytest.approx(totals["avg_rating"], abs=1e-9)
    assert [(d.rating, d.count) for d in ratings.distribution] == [
        (r, totals[f"r{r}"]) for r in range(1, 6)
    ]
    previous = await pg_totals(db, case, case.start - (case.end - case.start), case.start)
    assert ratings.trend.previous_count == previous["n"]
    assert ratings.trend.previous_avg_rating == pytest.approx(previous["avg_rating"], abs=1e-9)
    assert ratings.trend.count_change == totals["n"] - previous["n"]


async def check_sentiment(
    db: asyncpg.Connection, case: Case, sentiment: pb.GetSentimentAnalyticsResponse, top_n: int
) -> None:
    """Every number of a sentiment answer equals PostgreSQL's over the case."""
    expected = await pg_series(db, case)
    got = [p for p in sentiment.series if p.positive + p.neutral + p.negative + p.no_comment]
    assert [(p.date, p.positive, p.neutral, p.negative, p.no_comment) for p in got] == [
        (r["d"], r["positive"], r["neutral"], r["negative"], r["no_comment"]) for r in expected
    ], case
    assert [p.avg_sentiment_score for p in got] == pytest.approx(
        [r["avg_score"] for r in expected], abs=1e-9
    )
    totals = await pg_totals(db, case, case.start, case.end)
    t = sentiment.totals
    assert (t.positive, t.neutral, t.negative, t.no_comment) == (
        totals["positive"], totals["neutral"], totals["negative"], totals["no_comment"],
    )  # fmt: skip
    assert sentiment.avg_sentiment_score == pytest.approx(totals["avg_score"], abs=1e-9)
    for side, themes in (
        ("positive", sentiment.top_positive_themes),
        ("negative", sentiment.top_negative_themes),
    ):
        want = await pg_themes(db, case, side, top_n)
        assert [(x.tag, x.count) for x in themes] == [(r["tag"], r["n"]) for r in want], case
        assert [x.avg_rating for x in themes] == pytest.approx(
            [r["avg_rating"] for r in want], abs=1e-9
        )


def check_usage(usage: pb.GetUsageTrendsResponse, want: dict[str, Any]) -> None:
    """A usage trends answer equals PostgreSQL's (``pg_usage`` or ``pg_usage_range``)."""
    got = [(p.date, p.submissions, p.active_users) for p in usage.series]
    assert [g for g in got if g[1]] == [(r["d"], r["n"], r["users"]) for r in want["buckets"]]
    assert usage.total_submissions == want["totals"]["n"]
    assert usage.total_active_users == want["totals"]["users"]
    for top, column in ((usage.top_agents, "agent_id"), (usage.top_executions, "execution_id")):
        assert [(x.id, x.count) for x in top] == [(r["id"], r["n"]) for r in want[column]]
        assert [x.avg_rating for x in top] == pytest.approx(
            [r["avg_rating"] for r in want[column]], abs=1e-9
        )
