"""The files ``feedbackmesh up`` keeps in data_dir/run: the lock (one `up` per data
directory), status.json (what runs, with pids; read by tests and the next `up`)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import IO


class DataDirBusy(Exception):
    """Another `up` holds the data directory."""


def write_status(path: Path, status: Mapping[str, object]) -> None:
    """Atomically replace ``path``: a reader never sees half a file."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(status, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def reap_stale(status_path: Path) -> list[int]:
    """Stop what a previous `up` left running (it was SIGKILLed: no clean stop ran), so its
    Envoy does not keep the gateway port (the other children die with `up`, see child.py).
    Only pids whose command line is still one of ours are touched: a recycled pid belongs
    to someone else."""
    try:
        status = json.loads(status_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    entries = [
        *dict(status.get("processes") or {}).values(),
        *dict(status.get("stores") or {}).values(),
        status.get("envoy") or {},
    ]
    reaped = []
    for entry in entries:
        pid = entry.get("pid") if isinstance(entry, dict) else None
        if not isinstance(pid, int):
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if any(name in cmdline for name in _OURS):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
                reaped.append(pid)
    status_path.unlink(missing_ok=True)
    return reaped


# What `up` starts, by command line (a recycled pid running something else is left alone).
_OURS = (b"envoy", b"feedbackmesh", b"postgres", b"valkey")


def lock_data_dir(path: Path, data_dir: Path) -> IO[str]:
    """One `up` per data directory: two would fight over PostgreSQL, Valkey and chDB."""
    handle = path.open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "?"
        handle.close()
        raise DataDirBusy(
            f"another `feedbackmesh up` (pid {holder}) is using {data_dir}; stop it first "
            "or pass --data-dir",
        ) from None
    handle.truncate(0)
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle
