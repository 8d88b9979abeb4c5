"""Splitting a submission list into RPC-sized batches, and the per-item results."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from feedbackmesh.client.enums import BatchItemStatus
from feedbackmesh.client.errors import FeedbackMeshError, by_field
from feedbackmesh.client.results import BatchItemResult
from feedbackmesh.feedback.v1 import feedback_pb2

# BatchSubmitFeedback takes up to 500 items; the byte bound keeps a batch of long comments
# and large metadata well under the 16 MiB message limit.
MAX_BATCH_ITEMS = 500
MAX_BATCH_BYTES = 4 * 1024 * 1024


def batches(
    requests: Sequence[feedback_pb2.SubmitFeedbackRequest],
    max_items: int = MAX_BATCH_ITEMS,
    max_bytes: int = MAX_BATCH_BYTES,
) -> Iterator[tuple[int, Sequence[feedback_pb2.SubmitFeedbackRequest]]]:
    """(index of the first item, the items) per batch, in input order."""
    start = 0
    size = 0
    for index, request in enumerate(requests):
        # the item's bytes plus its field tag and length prefix
        item_bytes = request.ByteSize() + 8
        if index > start and (index - start >= max_items or size + item_bytes > max_bytes):
            yield start, requests[start:index]
            start, size = index, 0
        size += item_bytes
    if start < len(requests):
        yield start, requests[start:]


def carry_request_ids(requests: Iterable[feedback_pb2.SubmitFeedbackRequest]) -> bool:
    """Whether repeating these submissions is safe: each carries its request_id."""
    return all(request.request_id for request in requests)


def item_results(
    start: int,
    sent: Sequence[feedback_pb2.SubmitFeedbackRequest],
    response: feedback_pb2.BatchSubmitFeedbackResponse,
) -> list[BatchItemResult]:
    """The results of one batch, indexed from ``start``, in the order items were sent."""
    by_index = {result.index: result for result in response.results}
    if sorted(by_index) != list(range(len(sent))):
        raise FeedbackMeshError(
            f"BatchSubmitFeedback answered {len(response.results)} results for {len(sent)} items"
        )
    results = []
    for offset, request in enumerate(sent):
        result = by_index[offset]
        results.append(
            BatchItemResult(
                index=start + offset,
                request_id=request.request_id,
                status=BatchItemStatus(result.status),
                feedback=result.feedback if result.HasField("feedback") else None,
                field_violations=by_field(result.field_violations),
            )
        )
    return results
