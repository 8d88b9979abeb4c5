"""The ClickHouse schema: versioned, idempotent migrations recorded in ``schema_migrations``.

Run by ``feedbackmesh migrate`` and at ingest start-up. Every statement is
``IF NOT EXISTS`` so a migration interrupted half-way is simply re-run.

Rollups are exact by construction: they store sums and counts
(``SimpleAggregateFunction(sum, ...)``) and ``uniqExact`` states, never averages, and
they are hourly in UTC so any whole-hour-offset time zone is answered by summing hours.

Deduplication: the raw table and every view target keep a deduplication window, so an
insert retried with the same ``insert_deduplication_token`` (and
``deduplicate_blocks_in_dependent_materialized_views=1``) is dropped where it already
landed and completed where it did not (see ingest_svc/repository.py).

With ``settings.clickhouse_cluster`` set, data lives in ``*_local`` Replicated tables
created ON CLUSTER, and the public names are Distributed tables sharded by tenant (so a
tenant's rows and their ``uniqExact`` states live on one shard).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mesh_runtime.settings import Settings

logger = logging.getLogger(__name__)

DEDUP_WINDOW = 1000

# Raw feedback columns, in insert order (ingested_at is filled by its DEFAULT).
EVENT_COLUMNS = (
    "feedback_id",
    "outbox_sequence",
    "tenant_id",
    "user_id",
    "feedback_type",
    "execution_id",
    "agent_id",
    "chat_session_id",
    "rating",
    "sentiment",
    "sentiment_score",
    "tags",
    "created_at",
    "released_at",
)
# Every row carries the data version of the insert that made it visible (migration 3).
VERSION_COLUMN = "data_version"
# The feedback's revision (migration 4; 0 for rows from before revisions).
REVISION_COLUMN = "revision"

_EVENTS_COLUMNS_DDL = """
    feedback_id UInt64,
    outbox_sequence UInt64,
    tenant_id LowCardinality(String),
    user_id String,
    feedback_type Enum8('execution' = 1, 'agent' = 2, 'chat' = 3, 'general' = 4),
    execution_id UInt64,
    agent_id UInt64,
    chat_session_id String,
    rating UInt8,
    sentiment Enum8('no_comment' = 0, 'positive' = 1, 'neutral' = 2, 'negative' = 3),
    sentiment_score Float64,
    tags Array(String),
    created_at DateTime64(6, 'UTC'),
    released_at DateTime64(6, 'UTC'),
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)"""

_SUM = "SimpleAggregateFunction(sum, UInt64)"
_HOURLY_COLUMNS_DDL = f"""
    tenant_id LowCardinality(String),
    hour DateTime('UTC'),
    feedback_type Enum8('execution' = 1, 'agent' = 2, 'chat' = 3, 'general' = 4),
    feedback_count {_SUM},
    rating_sum {_SUM},
    rating_1 {_SUM},
    rating_2 {_SUM},
    rating_3 {_SUM},
    rating_4 {_SUM},
    rating_5 {_SUM},
    positive {_SUM},
    neutral {_SUM},
    negative {_SUM},
    no_comment {_SUM},
    scored_count {_SUM},
    sentiment_score_sum SimpleAggregateFunction(sum, Float64),
    users AggregateFunction(uniqExact, String)"""

_TAGS_COLUMNS_DDL = f"""
    tenant_id LowCardinality(String),
    hour DateTime('UTC'),
    feedback_type Enum8('execution' = 1, 'agent' = 2, 'chat' = 3, 'general' = 4),
    sentiment Enum8('no_comment' = 0, 'positive' = 1, 'neutral' = 2, 'negative' = 3),
    tag String,
    feedback_count {_SUM},
    rating_sum {_SUM}"""

# No WHERE clauses and no alias that shadows a source column: inside a view an alias
# shadows the column in WHERE (the assumeNotNull trap), so keep the selects plain.
_HOURLY_SELECT = """
SELECT
    tenant_id,
    toDateTime(toStartOfHour(created_at), 'UTC') AS hour,
    feedback_type,
    count() AS feedback_count,
    sum(toUInt64(rating)) AS rating_sum,
    countIf(rating = 1) AS rating_1,
    countIf(rating = 2) AS rating_2,
    countIf(rating = 3) AS rating_3,
    countIf(rating = 4) AS rating_4,
    countIf(rating = 5) AS rating_5,
    countIf(sentiment = 'positive') AS positive,
    countIf(sentiment = 'neutral') AS neutral,
    countIf(sentiment = 'negative') AS negative,
    countIf(sentiment = 'no_comment') AS no_comment,
    countIf(sentiment != 'no_comment') AS scored_count,
    sum(sentiment_score) AS sentiment_score_sum,
    uniqExactState(user_id) AS users
FROM {source}
GROUP BY tenant_id, hour, feedback_type"""

_TAGS_SELECT = """
SELECT
    tenant_id,
    toDateTime(toStartOfHour(created_at), 'UTC') AS hour,
    feedback_type,
    sentiment,
    tag,
    count() AS feedback_count,
    sum(toUInt64(rating)) AS rating_sum
FROM {source}
ARRAY JOIN tags AS tag
GROUP BY tenant_id, hour, feedback_type, sentiment, tag"""

# The rollups and the SELECT their views run: a change recomputes the hours it touches
# with the same SELECT over the live raw rows of those hours (ingest_svc/repository_changes.py).
ROLLUPS = (("feedback_hourly", _HOURLY_SELECT), ("feedback_tags_hourly", _TAGS_SELECT))

# What a retraction leaves in ClickHouse: the id and the revision at which it went, so a
# late older event of that feedback is recognized and dropped. Nothing of the user.
_TOMBSTONES_COLUMNS_DDL = """
    tenant_id LowCardinality(String),
    feedback_id UInt64,
    revision UInt32,
    retracted_at DateTime64(3, 'UTC') DEFAULT now64(3)"""

_JOURNAL_COLUMNS_DDL = """
    token String,
    state Enum8('begin' = 1, 'done' = 2),
    row_count UInt32,
    payload String,
    at DateTime64(6, 'UTC') DEFAULT now64(6)"""

_POISON_COLUMNS_DDL = """
    feedback_id UInt64,
    outbox_sequence UInt64,
    tenant_id String,
    error String,
    payload String,
    parked_at DateTime64(3, 'UTC') DEFAULT now64(3)"""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


class _Renderer:
    """Renders DDL for a single server or a cluster."""

    def __init__(self, database: str, cluster: str | None) -> None:
        self.database = database
        self.db = _quote(database)
        self.cluster = cluster
        self.on_cluster = f" ON CLUSTER {_quote(cluster)}" if cluster else ""

    def local(self, table: str) -> str:
        return f"{table}_local" if self.cluster else table

    def engine(self, kind: str, table: str, tail: str) -> str:
        """``kind`` is MergeTree or AggregatingMergeTree; ``tail`` the ORDER BY etc."""
        if self.cluster:
            path = f"'/clickhouse/tables/{{shard}}/{self.database}/{self.local(table)}'"
            return (
                f"ENGINE = Replicated{kind}({path}, '{{replica}}') {tail} "
                f"SETTINGS replicated_deduplication_window = {DEDUP_WINDOW}"
            )
        return (
            f"ENGINE = {kind} {tail} SETTINGS non_replicated_deduplication_window = {DEDUP_WINDOW}"
        )

    def table(self, name: str, columns: str, kind: str, tail: str, shard_key: str) -> list[str]:
        statements = [
            f"CREATE TABLE IF NOT EXISTS {self.db}.{self.local(name)}{self.on_cluster} "
            f"({columns}\n) {self.engine(kind, name, tail)}"
        ]
        if self.cluster:
            statements.append(
                f"CREATE TABLE IF NOT EXISTS {self.db}.{name}{self.on_cluster} "
                f"AS {self.db}.{self.local(name)} ENGINE = Distributed("
                f"{_quote(self.cluster)}, {self.db}, {self.local(name)}, {shard_key})"
            )
        return statements

    def add_column(self, table: str, column: str) -> list[str]:
        """ADD COLUMN on the table and, on a cluster, on its Distributed front too."""
        names = [self.local(table), table] if self.cluster else [table]
        return [
            f"ALTER TABLE {self.db}.{name}{self.on_cluster} ADD COLUMN IF NOT EXISTS {column}"
            for name in names
        ]

    def view(self, name: str, target: str, select: str) -> str:
        # Views hang off the local raw table and feed the local rollup, shard by shard.
        source = f"{self.db}.{self.local('feedback_events')}"
        return (
            f"CREATE MATERIALIZED VIEW IF NOT EXISTS {self.db}.{name}{self.on_cluster} "
            f"TO {self.db}.{self.local(target)} AS {select.format(source=source)}"
        )


def _quote(identifier: str) -> str:
    return "`" + identifier.replace("\\", "\\\\").replace("`", "\\`") + "`"


# The durable record of each tenant's data version: the highest version of its rows,
# kept by a view in the same insert as the rows (so a journal replay that completes the
# rows completes it too).
_VERSIONS_COLUMNS_DDL = """
    tenant_id String,
    data_version SimpleAggregateFunction(max, UInt64)"""

_VERSIONS_SELECT = """
SELECT tenant_id, max(data_version) AS data_version
FROM {source}
GROUP BY tenant_id"""


def migrations(database: str, cluster: str | None = None) -> list[Migration]:
    r = _Renderer(database, cluster)
    tenant_shard = "cityHash64(tenant_id)"
    raw = r.table(
        "feedback_events",
        _EVENTS_COLUMNS_DDL,
        "MergeTree",
        "PARTITION BY toYYYYMM(created_at) "
        "ORDER BY (tenant_id, toDate(created_at), created_at, feedback_id)",
        tenant_shard,
    )
    hourly = r.table(
        "feedback_hourly",
        _HOURLY_COLUMNS_DDL,
        "AggregatingMergeTree",
        "ORDER BY (tenant_id, hour, feedback_type)",
        tenant_shard,
    )
    tags = r.table(
        "feedback_tags_hourly",
        _TAGS_COLUMNS_DDL,
        "AggregatingMergeTree",
        "ORDER BY (tenant_id, hour, feedback_type, sentiment, tag)",
        tenant_shard,
    )
    journal = r.table(
        "ingest_journal",
        _JOURNAL_COLUMNS_DDL,
        "MergeTree",
        "ORDER BY (token, state) TTL toDateTime(at) + INTERVAL 1 DAY",
        "cityHash64(token)",
    )
    poison = r.table(
        "ingest_poison", _POISON_COLUMNS_DDL, "MergeTree", "ORDER BY (feedback_id)", "feedback_id"
    )
    return [
        Migration(
            1,
            "feedback_events and exact hourly rollups",
            (
                *raw,
                *hourly,
                *tags,
                r.view("feedback_hourly_mv", "feedback_hourly", _HOURLY_SELECT),
                r.view("feedback_tags_hourly_mv", "feedback_tags_hourly", _TAGS_SELECT),
            ),
        ),
        # The journal only matters until its entry is finished (at most one is open, and
        # it is replayed at start-up), so a day of history is plenty.
        Migration(2, "ingest journal and poison parking", (*journal, *poison)),
        Migration(
            3,
            "per-tenant data versions",
            (
                *r.add_column("feedback_events", f"{VERSION_COLUMN} UInt64 DEFAULT 0"),
                *r.add_column("ingest_journal", f"{VERSION_COLUMN} UInt64 DEFAULT 0"),
                *r.table(
                    "tenant_data_versions",
                    _VERSIONS_COLUMNS_DDL,
                    "AggregatingMergeTree",
                    "ORDER BY tenant_id",
                    tenant_shard,
                ),
                # Rows ingested before this migration are version 0: until a tenant's
                # next insert its data is what it was, so 0 names it exactly.
                r.view("tenant_data_versions_mv", "tenant_data_versions", _VERSIONS_SELECT),
            ),
        ),
        Migration(
            4,
            "feedback revisions and retraction tombstones",
            (
                *r.add_column("feedback_events", f"{REVISION_COLUMN} UInt32 DEFAULT 0"),
                *r.table(
                    "feedback_tombstones",
                    _TOMBSTONES_COLUMNS_DDL,
                    "MergeTree",
                    "ORDER BY (tenant_id, feedback_id)",
                    tenant_shard,
                ),
            ),
        ),
    ]


def bootstrap_statements(database: str, cluster: str | None = None) -> list[str]:
    r = _Renderer(database, cluster)
    return [
        f"CREATE DATABASE IF NOT EXISTS {r.db}{r.on_cluster}",
        *r.table(
            "schema_migrations",
            "\n    version UInt32,\n    name String,\n"
            "    applied_at DateTime64(3, 'UTC') DEFAULT now64(3)",
            "MergeTree",
            "ORDER BY version",
            "version",
        ),
    ]


def migrate_clickhouse(settings: Settings) -> None:
    """Applies the pending migrations to ``settings.clickhouse_database`` (blocking)."""
    from mesh_runtime.resources import create_clickhouse_client

    database, cluster = settings.clickhouse_database, settings.clickhouse_cluster
    client = create_clickhouse_client(settings)
    try:
        for statement in bootstrap_statements(database, cluster):
            client.command(statement)
        db = _quote(database)
        applied = {
            int(row[0])
            for row in client.query(f"SELECT version FROM {db}.schema_migrations").result_rows
        }
        for migration in migrations(database, cluster):
            if migration.version in applied:
                continue
            for statement in migration.statements:
                client.command(statement)
            client.insert(
                "schema_migrations",
                [[migration.version, migration.name]],
                column_names=["version", "name"],
                database=database,
            )
            logger.info(
                "clickhouse migration applied",
                extra={"version": migration.version, "migration": migration.name},
            )
    finally:
        client.close()


def schema_is_current(settings: Settings) -> bool:
    """Whether every migration of this release is recorded in ``schema_migrations`` (the
    rollout gate: ``feedbackmesh wait-for-schema``; blocking)."""
    from mesh_runtime.resources import create_clickhouse_client

    database = settings.clickhouse_database
    client = create_clickhouse_client(settings)
    try:
        rows = client.query(f"SELECT version FROM {_quote(database)}.schema_migrations").result_rows
    except Exception:
        return False  # no schema_migrations table yet
    finally:
        client.close()
    wanted = {m.version for m in migrations(database, settings.clickhouse_cluster)}
    return wanted <= {int(row[0]) for row in rows}
