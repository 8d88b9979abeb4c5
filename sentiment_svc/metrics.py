"""Sentiment metrics: model latency and label counts per analyzer."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from mesh_runtime.metrics import LATENCY_BUCKETS

ANALYSIS_SECONDS = Histogram(
    "sentiment_analysis_seconds",
    "Time of one model pass (a micro-batch or a batch request).",
    ["analyzer"],
    buckets=LATENCY_BUCKETS,
)
PASS_SIZE = Histogram(
    "sentiment_pass_texts",
    "Texts scored per model pass.",
    ["analyzer"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000),
)
LABELS_TOTAL = Counter(
    "sentiment_labels_total", "Texts scored, by predicted label.", ["analyzer", "label"]
)
