"""Ingestion metrics (module level: one registration per process)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# Lag runs from milliseconds (pub/sub path) to minutes (catch-up after an outage).
LAG_BUCKETS = (
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
)  # fmt: skip
BATCH_BUCKETS = (1, 10, 50, 100, 500, 1000, 2500, 5000, 10000)
DURATION_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip

END_TO_END_LAG = Histogram(
    "ingest_end_to_end_lag_seconds",
    "Time from a feedback's creation (since=created) or outbox release (since=released) "
    "to its insert into ClickHouse (an even sample of up to ~100 rows per batch).",
    ["since"],
    buckets=LAG_BUCKETS,
)
PUBSUB_LATENCY = Histogram(
    "ingest_pubsub_receive_to_insert_seconds",
    "Time from receiving a pub/sub message to the insert of its row (sampled per batch).",
    buckets=LAG_BUCKETS,
)
BATCH_SIZE = Histogram(
    "ingest_batch_rows",
    "Rows per ClickHouse insert, by path (pubsub, outbox, direct).",
    ["path"],
    buckets=BATCH_BUCKETS,
)
INSERT_DURATION = Histogram(
    "ingest_clickhouse_insert_seconds",
    "Duration of one successful ClickHouse insert (raw table and its views).",
    buckets=DURATION_BUCKETS,
)
ROWS_INGESTED = Counter("ingest_rows_total", "Rows inserted into feedback_events.")
DUPLICATES_SKIPPED = Counter(
    "ingest_duplicates_skipped_total",
    "Events skipped because their feedback id was already in ClickHouse.",
)
RETRIES = Counter(
    "ingest_clickhouse_retries_total",
    "ClickHouse operations retried after an error, by operation.",
    ["operation"],
)
POISON = Counter(
    "ingest_poison_events_total",
    "Events that failed validation or conversion and were parked in ingest_poison.",
)
ACK_FAILURES = Counter(
    "ingest_ack_failures_total",
    "Outbox acknowledgements that failed (the events are re-pulled and skipped).",
)
BACKLOG = Gauge(
    "ingest_outbox_backlog",
    "Released outbox events not yet acknowledged (as last reported by FeedbackService).",
)
PUBSUB_CONNECTED = Gauge("ingest_pubsub_connected", "1 while the Redis subscription is up.")
DATA_VERSION_COMMITS = Counter(
    "ingest_data_version_commits_total",
    "Inserts that advanced the data version of their tenants.",
)
VERSION_PUBLISH_FAILURES = Counter(
    "ingest_data_version_publish_failures_total",
    "Writes of data versions to Redis that failed (readers stop caching until repaired).",
)

# The ClickHouse operations the writer retries (its ``_retry`` names).
RETRIED_OPERATIONS = ("insert", "anti_join", "journal", "park_poison", "versions")


def initialise() -> None:
    """Error series exist at zero from the start, so ``increase()`` sees the first ones."""
    for operation in RETRIED_OPERATIONS:
        RETRIES.labels(operation)
