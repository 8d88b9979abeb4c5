"""CSV / JSON Lines rendering of an export stream, in bounded chunks.

The last record states the row count, so a client can tell a complete export from a cut
one: CSV ends with ``# export complete: N rows``, JSON Lines with
``{"export_complete": true, "row_count": N}``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from typing import Any

from feedback_svc.domain import FeedbackRecord

EXPORT_FORMATS = {"csv": "text/csv", "jsonl": "application/x-ndjson"}
CHUNK_BYTES = 64 * 1024
EXPORT_COLUMNS = (
    "id",
    "tenant_id",
    "user_id",
    "feedback_type",
    "execution_id",
    "agent_id",
    "chat_session_id",
    "rating",
    "comment",
    "sentiment",
    "sentiment_score",
    "sentiment_status",
    "tags",
    "metadata",
    "request_id",
    "created_at",
    "updated_at",
)


def export_row(record: FeedbackRecord) -> dict[str, Any]:
    """One exported record: the table's columns, times in RFC 3339 (UTC)."""
    return {
        "id": record.id,
        "tenant_id": record.tenant_id,
        "user_id": record.user_id,
        "feedback_type": record.feedback_type,
        "execution_id": record.execution_id,
        "agent_id": record.agent_id,
        "chat_session_id": record.chat_session_id,
        "rating": record.rating,
        "comment": record.comment,
        "sentiment": record.sentiment,
        "sentiment_score": record.sentiment_score,
        "sentiment_status": record.sentiment_status,
        "tags": record.tags,
        "metadata": record.metadata,
        "request_id": record.request_id,
        "created_at": record.created_at.isoformat(),
        "updated_at": record.updated_at.isoformat(),
    }


def _csv_cells(row: dict[str, Any]) -> list[Any]:
    cells = []
    for column in EXPORT_COLUMNS:
        value = row[column]
        if column in ("tags", "metadata"):
            value = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        cells.append("" if value is None else value)
    return cells


async def export_chunks(records: AsyncIterator[FeedbackRecord], fmt: str) -> AsyncIterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if fmt == "csv":
        writer.writerow(EXPORT_COLUMNS)
    count = 0
    async for record in records:
        row = export_row(record)
        if fmt == "csv":
            writer.writerow(_csv_cells(row))
        else:
            buffer.write(json.dumps(row, separators=(",", ":"), ensure_ascii=False))
            buffer.write("\n")
        count += 1
        if buffer.tell() >= CHUNK_BYTES:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    if fmt == "csv":
        buffer.write(f"# export complete: {count} rows\n")
    else:
        buffer.write(json.dumps({"export_complete": True, "row_count": count}) + "\n")
    yield buffer.getvalue().encode()
