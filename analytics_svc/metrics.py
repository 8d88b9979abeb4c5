"""Domain metrics of the analytics service (registered once per process)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from mesh_runtime.metrics import LATENCY_BUCKETS

QUERY_SECONDS = Histogram(
    "analytics_query_seconds",
    "ClickHouse query time of the analytics service, by RPC.",
    ["rpc"],
    buckets=LATENCY_BUCKETS,
)
ROWS_READ = Counter(
    "analytics_rows_read_total",
    "Rows ClickHouse read for analytics queries (from the query summary), by RPC.",
    ["rpc"],
)
