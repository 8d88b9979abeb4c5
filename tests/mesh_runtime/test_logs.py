"""A warning repeated every cycle is logged once per interval, with a count of the ones held
back (issue H: with Valkey down each outbox release logged a full traceback, ~32 KB/s)."""

from __future__ import annotations

import io
import logging

from mesh_runtime.logs import RepeatFilter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _logger(name: str, repeat: RepeatFilter) -> tuple[logging.Logger, io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(repeat)
    logger = logging.getLogger(name)
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, out


def test_repeats_from_one_line_are_held_back_then_counted() -> None:
    clock = Clock()
    logger, out = _logger("test.repeat", RepeatFilter(60.0, clock))

    def release(cycle: int) -> None:  # a loop body that fails the same way every cycle
        try:
            raise ConnectionError("Redis is down")
        except ConnectionError:
            logger.warning("publishing %d events failed", cycle, exc_info=True)

    for cycle in range(100):
        clock.now = cycle * 0.1
        release(cycle)
    assert out.getvalue().count("Traceback") == 1
    assert out.getvalue().count("publishing") == 1
    clock.now = 61.0
    release(7)
    assert out.getvalue().count("Traceback") == 2
    assert (
        "WARNING publishing 7 events failed (99 more like this in the last 61s were not logged)"
        in out.getvalue().splitlines()
    )


def test_other_lines_and_info_are_not_held_back() -> None:
    logger, out = _logger("test.repeat.other", RepeatFilter(60.0, Clock()))
    for _ in range(3):
        logger.warning("first line")
        logger.warning("second line")
        logger.info("progress")
    lines = out.getvalue().splitlines()
    assert lines.count("WARNING first line") == 1
    assert lines.count("WARNING second line") == 1
    assert lines.count("INFO progress") == 3


def test_zero_interval_logs_every_record() -> None:
    logger, out = _logger("test.repeat.off", RepeatFilter(0.0, Clock()))
    for _ in range(5):
        logger.error("again")
    assert out.getvalue().count("again") == 5
