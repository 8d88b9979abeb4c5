"""Typed results of the client's composite operations (batches, exports, the batcher)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from feedbackmesh.client.enums import BatchItemStatus
from feedbackmesh.feedback.v1 import feedback_pb2

_STORED = frozenset({BatchItemStatus.CREATED, BatchItemStatus.DUPLICATE})


@dataclass(frozen=True, slots=True)
class BatchItemResult:
    """The outcome of one item of ``batch_submit`` (``index`` is its input position)."""

    index: int
    request_id: str
    status: BatchItemStatus
    # The stored feedback, for CREATED and DUPLICATE (a duplicate's is the original).
    feedback: feedback_pb2.Feedback | None
    # For INVALID: each offending field (relative to the item, e.g. "rating") and why.
    field_violations: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def stored(self) -> bool:
        return self.status in _STORED


@dataclass(frozen=True, slots=True)
class FailedSubmission:
    """A batcher item whose RPC failed: not known to be stored. Its request keeps its
    request_id, so submitting it again cannot create a second row."""

    request: feedback_pb2.SubmitFeedbackRequest
    # Usually an ``RpcError``; anything else the send raised is kept too.
    error: Exception


@dataclass(slots=True)
class FlushReport:
    """What became of the batcher's items since the previous flush."""

    created: int = 0
    duplicate: int = 0
    rejected: list[BatchItemResult] = field(default_factory=list)
    failed: list[FailedSubmission] = field(default_factory=list)

    @property
    def stored(self) -> int:
        return self.created + self.duplicate

    @property
    def complete(self) -> bool:
        """Every item was stored."""
        return not self.rejected and not self.failed


@dataclass(frozen=True, slots=True)
class ExportResult:
    """A verified export: ``row_count`` rows (the trailer's count, equal to the rows
    received) in ``byte_count`` bytes, trailer included."""

    row_count: int
    byte_count: int
