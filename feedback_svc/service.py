"""Feedback logic: validation, idempotency, sentiment, listing, export, the outbox API."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence

from feedback_svc import metrics
from feedback_svc.changes import FeedbackChanges
from feedback_svc.domain import (
    STATUS_PENDING,
    BatchItemOutcome,
    FeedbackFilter,
    FeedbackPage,
    FeedbackPatch,
    FeedbackRecord,
    NewFeedback,
    OutboxStatus,
    RawSubmission,
    SentimentScore,
    SubmitOutcome,
)
from feedback_svc.export import EXPORT_FORMATS, export_chunks
from feedback_svc.outbox import OutboxStore
from feedback_svc.queries import decode_page_token, encode_page_token
from feedback_svc.repository import FeedbackRepository
from feedback_svc.sentiment_client import SentimentClient, SentimentUnavailable
from feedback_svc.validation import validate
from mesh_runtime import tracing
from mesh_runtime.auth import Principal
from mesh_runtime.coalesce import Coalescer
from mesh_runtime.errors import AlreadyExists, FieldViolation, InvalidArgument, NotFound
from mesh_runtime.page_tokens import PageTokens

logger = logging.getLogger(__name__)

MAX_BATCH = 500
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
DEFAULT_PULL = 1000
MAX_PULL = 10_000
CONFLICT_MESSAGE = "request_id was already used with a different payload"
# Unary submissions in flight together share one INSERT (natural batching), which costs
# PostgreSQL and this process far less CPU per row. One statement at a time gives the
# biggest batches and the lowest CPU and p99 per submission (bench/README.md, "Feedback
# submission"); batch submissions are not queued behind it.
INSERTS_IN_FLIGHT = 1
# A unary submission on its way to the coalesced INSERT: the item, its sentiment (None:
# pending) and the caller's trace context (stored with the outbox row).
Submission = tuple[NewFeedback, SentimentScore | None, str | None]


class FeedbackService:
    def __init__(
        self,
        repository: FeedbackRepository,
        outbox: OutboxStore,
        sentiment: SentimentClient,
        wake_release: Callable[[], None],
        wake_rescore: Callable[[], None],
        page_tokens: PageTokens,
        tenant_label: Callable[[str], str],
    ) -> None:
        self._repository = repository
        self._page_tokens = page_tokens
        self._tenant_label = tenant_label
        self._outbox = outbox
        self._sentiment = sentiment
        self._wake_release = wake_release
        self._wake_rescore = wake_rescore
        self.changes = FeedbackChanges(repository, sentiment, wake_release, wake_rescore)
        self._inserts: Coalescer[Submission, FeedbackRecord | None]
        self._inserts = Coalescer(
            self._insert_coalesced, max_batch=MAX_BATCH, max_in_flight=INSERTS_IN_FLIGHT
        )

    # --- submission ------------------------------------------------------------------

    async def submit(self, principal: Principal, raw: RawSubmission) -> SubmitOutcome:
        item = validate(raw, principal.tenant_id, principal.user_id)
        if isinstance(item, list):
            raise InvalidArgument(item)
        score: SentimentScore | None = None
        if item.comment is not None:
            try:
                score = await self._sentiment.score_one(item.comment)
            except (SentimentUnavailable, TimeoutError):
                score = None
        for _ in range(3):
            record = await self._inserts.submit((item, score, tracing.current_traceparent()))
            if record is not None:
                return SubmitOutcome(record, duplicate=False)
            existing = await self._repository.by_request_ids(item.tenant_id, [item.request_id])
            if existing:
                if existing[0].payload_hash != item.payload_hash:
                    raise AlreadyExists(CONFLICT_MESSAGE)
                return SubmitOutcome(existing[0], duplicate=True)
            # The conflicting insert rolled back between our two statements: try again.
        raise AlreadyExists(CONFLICT_MESSAGE)

    async def _insert_coalesced(self, pairs: list[Submission]) -> list[FeedbackRecord | None]:
        """Inserts concurrent unary submissions in one statement: each gets its new row,
        or None when its (tenant, request_id) exists (a retry, or a twin in this batch)."""
        first: dict[tuple[str, str], int] = {}
        for index, (item, _, _) in enumerate(pairs):
            first.setdefault((item.tenant_id, item.request_id), index)
        unique = [pairs[index] for index in first.values()]
        created = await self._repository.insert_many(
            [item for item, _, _ in unique],
            [score for _, score, _ in unique],
            [traceparent for _, _, traceparent in unique],
        )
        self._created(created)
        by_key = {(record.tenant_id, record.request_id): record for record in created}
        return [
            by_key.get(key) if first[key] == index else None
            for index, key in enumerate((item.tenant_id, item.request_id) for item, _, _ in pairs)
        ]

    async def batch_submit(
        self, principal: Principal, raws: Sequence[RawSubmission]
    ) -> list[BatchItemOutcome]:
        if not 1 <= len(raws) <= MAX_BATCH:
            raise InvalidArgument.single("requests", f"must hold 1..{MAX_BATCH} submissions")
        outcomes: dict[int, BatchItemOutcome] = {}
        primary: dict[str, tuple[int, NewFeedback]] = {}  # request_id -> first valid item
        repeats: list[tuple[int, NewFeedback]] = []
        for index, raw in enumerate(raws):
            item = validate(raw, principal.tenant_id, principal.user_id)
            if isinstance(item, list):
                outcomes[index] = BatchItemOutcome(index, "invalid", violations=tuple(item))
            elif item.request_id in primary:
                repeats.append((index, item))
            else:
                primary[item.request_id] = (index, item)
        items = [item for _, item in primary.values()]
        scores = await self._score_batch(items)
        traceparents = [tracing.current_traceparent()] * len(items)
        created = await self._repository.insert_many(items, scores, traceparents) if items else []
        self._created(created)
        by_request = {record.request_id: record for record in created}
        created_ids = set(by_request)
        missing = [rid for rid in primary if rid not in by_request]
        if missing:
            for existing in await self._repository.by_request_ids(principal.tenant_id, missing):
                by_request[existing.request_id] = existing
        for index, item in [*primary.values(), *repeats]:
            record = by_request.get(item.request_id)
            if record is None or record.payload_hash != item.payload_hash:
                outcomes[index] = BatchItemOutcome(
                    index, "conflict", violations=(FieldViolation("request_id", CONFLICT_MESSAGE),)
                )
            elif item.request_id in created_ids and primary[item.request_id][0] == index:
                outcomes[index] = BatchItemOutcome(index, "created", record)
            else:
                outcomes[index] = BatchItemOutcome(index, "duplicate", record)
        return [outcomes[i] for i in range(len(raws))]

    async def _score_batch(self, items: Sequence[NewFeedback]) -> list[SentimentScore | None]:
        texts = [item.comment for item in items if item.comment is not None]
        try:
            scores = iter(await self._sentiment.score_batch(texts))
        except SentimentUnavailable:
            return [None] * len(items)
        return [next(scores) if item.comment is not None else None for item in items]

    def _created(self, records: Sequence[FeedbackRecord]) -> None:
        if not records:
            return
        if len(records) == 1:
            self._created_one(records[0])
            return
        # Label lookups take a lock each: aggregate per batch first.
        per_type: Counter[tuple[str, str]] = Counter()
        pending = False
        for record in records:
            per_type[(self._tenant_label(record.tenant_id), record.feedback_type)] += 1
            metrics.RATING_DISTRIBUTION.observe(record.rating)
            if record.sentiment_status == STATUS_PENDING:
                pending = True
        for (tenant_id, feedback_type), count in per_type.items():
            metrics.SUBMISSIONS.labels(tenant_id, feedback_type).inc(count)
        scores = [r for r in records if r.sentiment_score is not None]
        if scores:
            histogram = metrics.SENTIMENT_SCORE.labels(self._tenant_label(records[0].tenant_id))
            for record in scores:
                assert record.sentiment_score is not None
                histogram.observe(record.sentiment_score)
        if pending:
            metrics.SENTIMENT_PENDING_SUBMISSIONS.inc(
                sum(r.sentiment_status == STATUS_PENDING for r in records)
            )
        # Publishing happens in the releaser, off the request path.
        self._wake_release()
        if pending:
            self._wake_rescore()

    def _created_one(self, record: FeedbackRecord) -> None:
        tenant = self._tenant_label(record.tenant_id)
        metrics.SUBMISSIONS.labels(tenant, record.feedback_type).inc()
        metrics.RATING_DISTRIBUTION.observe(record.rating)
        if record.sentiment_score is not None:
            metrics.SENTIMENT_SCORE.labels(tenant).observe(record.sentiment_score)
        self._wake_release()
        if record.sentiment_status == STATUS_PENDING:
            metrics.SENTIMENT_PENDING_SUBMISSIONS.inc()
            self._wake_rescore()

    # --- changes (feedback_svc/changes.py) ---------------------------------------------

    async def update(
        self, principal: Principal, feedback_id: int, patch: FeedbackPatch, etag: str
    ) -> FeedbackRecord:
        return await self.changes.update(principal, feedback_id, patch, etag)

    async def delete(self, principal: Principal, feedback_id: int, etag: str) -> None:
        await self.changes.delete(principal, feedback_id, etag)

    # --- reads -----------------------------------------------------------------------

    async def get(self, principal: Principal, feedback_id: int) -> FeedbackRecord:
        record = await self._repository.get(principal.tenant_id, feedback_id)
        if record is None:
            # Another tenant's id looks exactly like a missing one.
            raise NotFound(f"feedback {feedback_id} not found")
        return record

    async def list_page(
        self, principal: Principal, flt: FeedbackFilter, page_size: int, page_token: str
    ) -> FeedbackPage:
        if page_size < 0:
            raise InvalidArgument.single("page_size", "must not be negative")
        size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        before = None
        if page_token:
            before = decode_page_token(self._page_tokens, principal.tenant_id, page_token)
        records = await self._repository.list_page(principal.tenant_id, flt, before, size + 1)
        token = ""
        if len(records) > size:
            records = records[:size]
            last = records[-1]
            token = encode_page_token(
                self._page_tokens, principal.tenant_id, last.created_at, last.id
            )
        return FeedbackPage(records, token)

    def export(self, principal: Principal, flt: FeedbackFilter, fmt: str) -> AsyncIterator[bytes]:
        fmt = fmt.strip().lower() or "csv"
        if fmt not in EXPORT_FORMATS:
            raise InvalidArgument.single("format", "must be csv or jsonl")
        return export_chunks(self._repository.stream(principal.tenant_id, flt), fmt)

    # --- outbox (internal) -----------------------------------------------------------

    async def pull_events(self, after_sequence: int, max_events: int) -> list[bytes]:
        """Serialized FeedbackEvents, in sequence order."""
        if max_events < 0:
            raise InvalidArgument.single("max_events", "must not be negative")
        if after_sequence < 0:
            raise InvalidArgument.single("after_sequence", "must not be negative")
        return await self._outbox.pull(after_sequence, min(max_events or DEFAULT_PULL, MAX_PULL))

    async def acknowledge(self, sequences: Sequence[int]) -> int:
        return await self._outbox.acknowledge(sequences)

    async def outbox_status(self) -> OutboxStatus:
        return await self._outbox.status()
