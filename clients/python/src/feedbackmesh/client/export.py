"""Checking an export stream's row-count trailer, and writing an export to a file.

CSV ends with ``# export complete: N rows`` after a header and N records; JSON Lines with
``{"export_complete": true, "row_count": N}`` after N lines. CSV records may span lines
(quoted comments keep their newlines), so a CSV record ends at a newline outside quotes:
with doubled quotes as the only escape, that is where the record's quote count is even.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from feedbackmesh.client.arguments import ExportFormat
from feedbackmesh.client.errors import ExportIncompleteError
from feedbackmesh.client.results import ExportResult

_CSV_TRAILER = re.compile(rb"# export complete: (\d+) rows")
Destination = str | os.PathLike[str] | BinaryIO


class TrailerCheck:
    """Fed the stream's bytes in order; ``finish()`` returns the verified row count or
    raises ``ExportIncompleteError``."""

    def __init__(self, fmt: ExportFormat) -> None:
        self._csv = fmt == "csv"
        self._records = 0
        self._partial: list[bytes] = []  # the current record's pieces so far
        self._last = b""  # the last complete record
        self._quoted = False  # inside a quoted CSV field
        self.byte_count = 0

    def feed(self, data: bytes) -> None:
        self.byte_count += len(data)
        *lines, rest = data.split(b"\n")
        for line in lines:
            self._partial.append(line)
            if self._csv and line.count(b'"') % 2:
                self._quoted = not self._quoted
            if self._quoted:
                self._partial.append(b"\n")
                continue
            self._last = b"".join(self._partial)
            self._partial.clear()
            self._records += 1
        if rest:
            self._partial.append(rest)
            if self._csv and rest.count(b'"') % 2:
                self._quoted = not self._quoted

    def finish(self) -> ExportResult:
        if self._partial or self._quoted:
            raise ExportIncompleteError("the export ends inside a record: it was cut")
        stated = self._stated_count()
        if stated is None:
            raise ExportIncompleteError("the export has no row-count trailer: it was cut")
        received = self._records - (2 if self._csv else 1)  # CSV: header and trailer
        if stated != received:
            raise ExportIncompleteError(
                f"the export's trailer states {stated} rows but {received} arrived"
            )
        return ExportResult(row_count=received, byte_count=self.byte_count)

    def _stated_count(self) -> int | None:
        if self._csv:
            match = _CSV_TRAILER.fullmatch(self._last)
            return int(match.group(1)) if match else None
        try:
            trailer = json.loads(self._last)
        except ValueError:
            return None
        if not isinstance(trailer, dict) or trailer.get("export_complete") is not True:
            return None
        count = trailer.get("row_count")
        return count if isinstance(count, int) else None


@contextlib.contextmanager
def output(destination: Destination) -> Iterator[BinaryIO]:
    """Where an export's bytes go: a file object as given, or for a path a
    ``<path>.partial`` file renamed into place only when the block completes (so a cut
    export never sits under the final name). A path that exists and is not a regular file
    (``/dev/null``, a FIFO, ``/dev/stdout``) is written in place: renaming over it would
    replace the device with a file."""
    if not isinstance(destination, str | os.PathLike):
        yield destination
        return
    path = Path(destination)
    if path.exists() and not path.is_file():
        with path.open("wb") as out:
            yield out
        return
    partial = path.with_name(path.name + ".partial")
    try:
        with partial.open("wb") as out:
            yield out
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
