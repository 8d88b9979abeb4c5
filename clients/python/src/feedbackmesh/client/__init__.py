"""The Feedback Mesh client: typed sync and asyncio facades over the generated stubs.

    from feedbackmesh.client import FeedbackMeshClient, FeedbackType

    with FeedbackMeshClient("localhost:8080", token=token, tls=False) as client:
        stored = client.submit(feedback_type=FeedbackType.AGENT, agent_id=42, rating=5)
        for feedback in client.list(agent_id=42, min_rating=4):
            ...

See ``clients/python/README.md`` for the whole surface.
"""

from feedbackmesh.client.aio import AsyncFeedbackMeshClient
from feedbackmesh.client.arguments import (
    AnalyticsFilters,
    AnalyticsView,
    ExportFormat,
    FeedbackFilters,
    Period,
    RankedAnalyticsFilters,
    SubmitFields,
    UpdateFields,
)
from feedbackmesh.client.auth import TokenProvider
from feedbackmesh.client.batcher import AsyncBatcher, Batcher
from feedbackmesh.client.core import ClientOptions
from feedbackmesh.client.enums import (
    BatchItemStatus,
    FeedbackType,
    Granularity,
    SentimentLabel,
    SentimentStatus,
)
from feedbackmesh.client.errors import (
    AbortedError,
    AlreadyExistsError,
    BatcherClosedError,
    BatcherError,
    BatcherFlushError,
    BatcherFullError,
    BatchSubmitError,
    DeadlineExceededError,
    ExportIncompleteError,
    FeedbackMeshError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
    RpcError,
    UnauthenticatedError,
    UnavailableError,
)
from feedbackmesh.client.results import (
    BatchItemResult,
    ExportResult,
    FailedSubmission,
    FlushReport,
)
from feedbackmesh.client.retry import RetryPolicy
from feedbackmesh.client.sync import FeedbackMeshClient

__all__ = [
    "AbortedError",
    "AlreadyExistsError",
    "AnalyticsFilters",
    "AnalyticsView",
    "AsyncBatcher",
    "AsyncFeedbackMeshClient",
    "BatchItemResult",
    "BatchItemStatus",
    "BatchSubmitError",
    "Batcher",
    "BatcherClosedError",
    "BatcherError",
    "BatcherFlushError",
    "BatcherFullError",
    "ClientOptions",
    "DeadlineExceededError",
    "ExportFormat",
    "ExportIncompleteError",
    "ExportResult",
    "FailedSubmission",
    "FeedbackFilters",
    "FeedbackMeshClient",
    "FeedbackMeshError",
    "FeedbackType",
    "FlushReport",
    "Granularity",
    "InvalidArgumentError",
    "NotFoundError",
    "Period",
    "PermissionDeniedError",
    "RankedAnalyticsFilters",
    "ResourceExhaustedError",
    "RetryPolicy",
    "RpcError",
    "SentimentLabel",
    "SentimentStatus",
    "SubmitFields",
    "TokenProvider",
    "UnauthenticatedError",
    "UnavailableError",
    "UpdateFields",
]
