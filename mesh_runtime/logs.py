"""JSON logging, configured once at the entry point (``configure_logging``)."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from mesh_runtime.tracing import current_ids, current_request_id

_STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, extra fields, exc_info."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        # Every line names its trace and request (null outside a call or event).
        entry["trace_id"], entry["span_id"] = current_ids()
        entry["request_id"] = current_request_id()
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class RepeatFilter(logging.Filter):
    """Holds back repeats of a warning (or worse) from one line of code.

    A loop that fails the same way every cycle (publishing while Redis is down, releasing
    while PostgreSQL is down) would otherwise log a traceback each time. The first record
    from a line passes; later ones within ``interval`` seconds are counted, not logged; the
    first after that passes with ``repeats_suppressed`` (also added to its message).
    """

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._interval = interval
        self._clock = clock
        # (logger, level, file, line) -> [when the last one passed, how many held back]
        self._runs: dict[tuple[str, int, str, int], list[float]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or self._interval <= 0:
            return True
        key = (record.name, record.levelno, record.pathname, record.lineno)
        now = self._clock()
        run = self._runs.get(key)
        if run is not None and now - run[0] < self._interval:
            run[1] += 1
            return False
        self._runs[key] = [now, 0]
        if run is not None and run[1]:
            held_back = int(run[1])
            record.repeats_suppressed = held_back
            record.msg = (
                f"{record.msg} ({held_back} more like this in the last "
                f"{now - run[0]:.0f}s were not logged)"
            )
        return True


def configure_logging(
    level: str = "INFO", fmt: str = "json", repeat_interval: float = 60.0
) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RepeatFilter(repeat_interval))
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Library chatter at INFO drowns the services' own logs.
    for noisy in ("asyncio", "urllib3", "clickhouse_connect", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
