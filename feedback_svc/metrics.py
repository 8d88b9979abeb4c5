"""Domain metrics of the feedback service (module level: registered once per process)."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client import Counter, Gauge, Histogram

from feedback_svc.domain import OutboxStatus

SUBMISSIONS = Counter(
    "feedback_submissions_total",
    "Feedback created (duplicates of a request_id not counted).",
    ["tenant_id", "feedback_type"],
)
RATING_DISTRIBUTION = Histogram(
    "feedback_rating_distribution",
    "Ratings of created feedback.",
    buckets=(1, 2, 3, 4, 5),
)
SENTIMENT_SCORE = Histogram(
    "feedback_sentiment_score",
    "Sentiment scores of scored comments, in [-1, 1].",
    ["tenant_id"],
    buckets=(-1.0, -0.6, -0.2, 0.2, 0.6, 1.0),
)
OUTBOX_BACKLOG = Gauge(
    "feedback_outbox_backlog",
    "Released outbox events not yet acknowledged by the ingest side.",
)
OUTBOX_OLDEST_AGE = Gauge(
    "feedback_outbox_oldest_unacknowledged_age_seconds",
    "Age of the oldest feedback whose event the ingest side has not acknowledged "
    "(pending sentiment included); 0 when there is none.",
)
PENDING_SENTIMENT = Gauge(
    "feedback_pending_sentiment",
    "Feedback whose sentiment is pending (event not yet released).",
)
PUBLISHED = Counter("feedback_events_published_total", "Events published on Redis.")
PUBLISH_FAILURES = Counter(
    "feedback_publish_failures_total", "Events that could not be published on Redis."
)
RELEASED = Counter("feedback_events_released_total", "Outbox events released (sequenced).")
RELEASE_LAG = Histogram(
    "feedback_release_lag_seconds",
    "From a feedback's commit to its event's release (long when sentiment was pending).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
)
SENTIMENT_PENDING_SUBMISSIONS = Counter(
    "feedback_sentiment_pending_total",
    "Feedback committed with sentiment pending (the sentiment service failed or was slow).",
)


def observe_outbox(status: OutboxStatus) -> None:
    OUTBOX_BACKLOG.set(status.backlog)
    PENDING_SENTIMENT.set(status.pending_sentiment)
    oldest = status.oldest_unacknowledged_created_at
    age = 0.0 if oldest is None else (datetime.now(UTC) - oldest).total_seconds()
    OUTBOX_OLDEST_AGE.set(max(age, 0.0))
