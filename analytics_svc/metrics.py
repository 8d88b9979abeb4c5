"""Domain metrics of the analytics service (registered once per process)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from mesh_runtime.metrics import LATENCY_BUCKETS

QUERY_SECONDS = Histogram(
    "analytics_query_seconds",
    "ClickHouse query time of the analytics service, by query.",
    ["query"],
    buckets=LATENCY_BUCKETS,
)
ROWS_READ = Counter(
    "analytics_rows_read_total",
    "Rows ClickHouse read for analytics queries (from the query summary), by query.",
    ["query"],
)
CACHE_REQUESTS = Counter(
    "analytics_cache_requests_total",
    "Answer cache look-ups by view and result (hit, miss; answers that could not be "
    "looked up because the data version was not trusted count as bypass).",
    ["view", "result"],
)
CACHE_EVICTIONS = Counter(
    "analytics_cache_evictions_total", "Answers evicted from the cache to stay in its bound."
)
CACHE_BYTES = Gauge("analytics_cache_bytes", "Estimated bytes held by the answer cache.")
CACHE_ENTRIES = Gauge("analytics_cache_entries", "Answers held by the answer cache.")
UNVERIFIED_ANSWERS = Counter(
    "analytics_unverified_answers_total",
    "Answers whose data version could not be confirmed around the query: Redis held no "
    "trusted version (served uncached, labelled with the durable version), or rows kept "
    "landing (the call failed UNAVAILABLE).",
)
WATCH_STREAMS = Gauge("analytics_watch_streams", "Open WatchAnalytics streams.")
WATCH_REFUSED = Counter(
    "analytics_watch_refused_total", "WatchAnalytics streams refused over a limit.", ["limit"]
)
