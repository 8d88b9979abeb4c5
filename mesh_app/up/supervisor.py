"""Service processes under ``feedbackmesh up``: start, watch, restart with backoff, stop.

Like an orchestrator, a process that dies is reported and started again after an
exponentially growing delay (1 s, 2 s, 4 s ... 30 s), so a crash loop does not spin the
CPU; a process that stayed up for a while starts again from the shortest delay.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from mesh_app.up.ports import ProcessSpec

logger = logging.getLogger(__name__)


@dataclass
class Backoff:
    """Restart delays: ``initial * 2**n`` capped at ``maximum``; reset once a process ran
    for ``reset_after`` seconds (it was healthy, so the next crash is a new story)."""

    initial: float = 1.0
    maximum: float = 30.0
    reset_after: float = 60.0
    failures: int = 0

    def next_delay(self, ran_for: float) -> float:
        if ran_for >= self.reset_after:
            self.failures = 0
        delay = min(self.maximum, self.initial * 2.0**self.failures)
        self.failures += 1
        return delay


Launch = Callable[[], "subprocess.Popen[bytes]"]


def service_launcher(spec: ProcessSpec, env: Mapping[str, str], log_path: Path) -> Launch:
    """Starts ``feedbackmesh serve <targets>`` (through the child module, see child.py)."""

    def launch() -> subprocess.Popen[bytes]:
        parent = ["--parent", str(os.getpid())]
        command = [sys.executable, "-m", "mesh_app.up.child", *parent, *spec.targets]
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log:
            return subprocess.Popen(
                command,
                env=dict(env),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                # Own session: Ctrl-C reaches `up` only, which then stops the services in
                # order (drain first) instead of every process dying at once.
                start_new_session=True,
            )

    return launch


class ManagedProcess:
    """A process `up` keeps running: restarted with :class:`Backoff` when it exits."""

    def __init__(
        self,
        name: str,
        launch: Launch,
        log_path: Path,
        run_dir: Path,
        *,
        spec: ProcessSpec | None = None,
        backoff: Backoff | None = None,
        report: Callable[[str], None] = print,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.spec = spec
        self.log_path = log_path
        self.pid_path = run_dir / f"{name}.pid"
        self.backoff = backoff or Backoff()
        self.restarts = 0
        self._launch = launch
        self._report = report
        self._clock = clock
        self._proc: subprocess.Popen[bytes] | None = None
        self._started_at = 0.0
        self._restart_at: float | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def start(self) -> None:
        self._proc = self._launch()
        self._started_at = self._clock()
        self._restart_at = None
        self.pid_path.write_text(f"{self._proc.pid}\n", encoding="utf-8")
        logger.info("started %s pid=%d", self.name, self._proc.pid)

    def check(self) -> None:
        """Called periodically: notice an exit, schedule the restart, restart when due."""
        now = self._clock()
        if self._restart_at is not None:
            if now >= self._restart_at:
                self.restarts += 1
                self.start()
            return
        if self._proc is None or self._proc.poll() is None:
            return
        code = self._proc.returncode
        delay = self.backoff.next_delay(now - self._started_at)
        self._restart_at = now + delay
        self.pid_path.unlink(missing_ok=True)
        how = f"was killed by {_signal_name(-code)}" if code < 0 else f"exited with code {code}"
        self._report(
            f"feedbackmesh up: {self.name} (pid {self._proc.pid}) {how}; "
            f"restarting in {delay:g}s (log: {self.log_path})"
        )

    def terminate(self) -> None:
        """SIGTERM: a service turns NOT_SERVING, drains, then exits."""
        self._restart_at = None
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)

    def wait(self, deadline: float) -> None:
        """Wait for the exit until ``deadline`` (monotonic), then SIGKILL."""
        if self._proc is not None:
            try:
                self._proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.warning("%s did not stop in time; killing it", self.name)
                self._proc.kill()
                self._proc.wait()
        self.pid_path.unlink(missing_ok=True)

    def status(self) -> dict[str, object]:
        status: dict[str, object] = {
            "pid": self.pid,
            "restarts": self.restarts,
            "log": str(self.log_path),
        }
        if self.spec is not None:
            status["targets"] = list(self.spec.targets)
            status["grpc_port"] = self.spec.grpc_port
            status["metrics_port"] = self.spec.metrics_port
        return status


def stop_all(processes: list[ManagedProcess], timeout: float) -> None:
    """SIGTERM every process at once (they drain in parallel), SIGKILL after ``timeout``."""
    for proc in processes:
        proc.terminate()
    deadline = time.monotonic() + timeout
    for proc in processes:
        proc.wait(deadline)


def write_status(path: Path, status: Mapping[str, object]) -> None:
    """Atomically replace ``path``: a reader never sees half a file."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(status, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def reap_stale(status_path: Path) -> list[int]:
    """Stop what a previous `up` left running (it was SIGKILLed: no clean stop ran), so its
    Envoy does not keep the gateway port. Only pids whose command line is still Envoy or
    feedbackmesh are touched: a recycled pid belongs to someone else."""
    try:
        status = json.loads(status_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    entries = [*dict(status.get("processes") or {}).values(), status.get("envoy") or {}]
    reaped = []
    for entry in entries:
        pid = entry.get("pid") if isinstance(entry, dict) else None
        if not isinstance(pid, int):
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"envoy" in cmdline or b"feedbackmesh" in cmdline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
                reaped.append(pid)
    status_path.unlink(missing_ok=True)
    return reaped


def log_tail(path: Path, lines: int = 15) -> str:
    if not path.is_file():
        return "(no log yet)"
    text = path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
    return "\n".join(f"    {line}" for line in text) or "(log is empty)"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
