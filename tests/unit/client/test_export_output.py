"""Where the client writes an export: a path gets its bytes only once the export is whole;
a device or FIFO is written in place and stays what it was."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from feedbackmesh.client.export import output


def test_a_path_receives_the_export_only_when_it_completes(tmp_path: Path) -> None:
    target = tmp_path / "feedback.jsonl"
    with pytest.raises(RuntimeError), output(target) as out:
        out.write(b"{}\n")
        raise RuntimeError("cut")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []
    with output(target) as out:
        out.write(b"{}\n")
    assert target.read_bytes() == b"{}\n"
    assert list(tmp_path.iterdir()) == [target]


def test_a_fifo_is_written_in_place_not_replaced(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    with output(fifo) as out:
        out.write(b"row\n")
    reader.join(timeout=10)
    assert received == [b"row\n"]
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert list(tmp_path.iterdir()) == [fifo]


def test_dev_null_stays_a_device() -> None:
    with output(os.devnull) as out:
        out.write(b"discarded\n")
    assert stat.S_ISCHR(Path(os.devnull).stat().st_mode)
