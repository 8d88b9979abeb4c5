"""``Content-Disposition`` for export answers: browsers save them as a named file.

Sent as gRPC initial metadata; Envoy's transcoder passes it on as the HTTP header.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

CONTENT_DISPOSITION = "content-disposition"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def attachment_filename(kind: str, tenant_id: str, extension: str, at: datetime) -> str:
    """``feedback-acme-20261127-021805.csv``: what, whose, when (UTC); safe characters only."""
    stamp = at.astimezone(UTC).strftime("%Y%m%d-%H%M%S")
    stem = "-".join(_UNSAFE.sub("_", part).strip("_") or "_" for part in (kind, tenant_id))
    return f"{stem}-{stamp}.{extension}"


def attachment_metadata(filename: str) -> tuple[tuple[str, str], ...]:
    return ((CONTENT_DISPOSITION, f'attachment; filename="{filename}"'),)
