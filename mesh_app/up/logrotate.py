"""Size-capped logs for ``feedbackmesh up``: ``name.log`` plus ``name.log.1`` ...
``name.log.N``, like logrotate's ``copytruncate``.

The children write their logs themselves, through a file ``up`` opened for them in append
mode: a pipe through ``up`` would stall every service whenever ``up`` stalls. A log over
the cap is copied to ``.1`` (older copies shift up, the oldest is dropped) and truncated
in place; append-mode writers carry on at the new end. Lines written between the copy and
the truncation (a few milliseconds) are lost.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)


def rotate_if_large(path: Path, max_bytes: int, backups: int) -> bool:
    """Rotates ``path`` when it is larger than ``max_bytes``; True if it did."""
    try:
        if path.stat().st_size <= max_bytes:
            return False
    except FileNotFoundError:
        return False
    for index in range(backups - 1, 0, -1):
        older = path.with_name(f"{path.name}.{index}")
        if older.exists():
            os.replace(older, path.with_name(f"{path.name}.{index + 1}"))
    if backups > 0:
        shutil.copyfile(path, path.with_name(f"{path.name}.1"))
    with path.open("r+b") as log:
        log.truncate(0)
    return True


@dataclass
class LogRotation:
    """Checks every ``*.log`` in ``directory`` at most every ``interval`` seconds."""

    directory: Path
    max_bytes: int
    backups: int
    interval: float = 2.0
    clock: Callable[[], float] = time.monotonic
    _next_at: float = 0.0

    def check(self) -> None:
        now = self.clock()
        if now < self._next_at or self.max_bytes <= 0:
            return
        self._next_at = now + self.interval
        for path in sorted(self.directory.glob("*.log")):
            try:
                rotate_if_large(path, self.max_bytes, self.backups)
            except OSError as exc:
                logger.warning("cannot rotate %s: %s", path, exc)
