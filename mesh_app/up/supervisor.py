"""Processes under ``feedbackmesh up`` (services, Envoy, embedded PostgreSQL and Valkey):
start, watch, restart with backoff, stop.

Like an orchestrator, a process that dies is reported and started again after an
exponentially growing delay (1 s, 2 s, 4 s ... 30 s), so a crash loop does not spin the
CPU; a process that stayed up for a while starts again from the shortest delay. A process
that stops answering its liveness probe (see liveness.py) is killed and restarted the same
way.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from mesh_app.up.child import exec_argv
from mesh_app.up.liveness import LivenessCheck
from mesh_app.up.ports import ProcessSpec
from mesh_runtime.embedded import ServerCommand

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


def server_launcher(command: ServerCommand, stop_signal: signal.Signals, log_path: Path) -> Launch:
    """Starts a server binary (embedded PostgreSQL, Valkey) that dies with ``up``."""

    def launch() -> subprocess.Popen[bytes]:
        argv = exec_argv(os.getpid(), stop_signal, command.user, command.argv)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log:
            return subprocess.Popen(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
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
        liveness: LivenessCheck | None = None,
        stop_signal: signal.Signals = signal.SIGTERM,
        report: Callable[[str], None] = print,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.spec = spec
        self.log_path = log_path
        self.pid_path = run_dir / f"{name}.pid"
        self.backoff = backoff or Backoff()
        self.liveness = liveness
        self.stop_signal = stop_signal
        self.restarts = 0
        self._launch = launch
        self._report = report
        self._clock = clock
        self._proc: subprocess.Popen[bytes] | None = None
        self._started_at = 0.0
        self._restart_at: float | None = None
        self._killed_because: str | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def start(self) -> None:
        self._proc = self._launch()
        self._started_at = self._clock()
        self._restart_at = None
        self._killed_because = None
        if self.liveness is not None:
            self.liveness.restart(self._started_at)
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
        if self._proc is None:
            return
        if self._proc.poll() is None:
            if self.liveness is None or not self.liveness.due(now):
                return
            self._kill_unresponsive(self.liveness)
        code = self._proc.returncode
        delay = self.backoff.next_delay(now - self._started_at)
        self._restart_at = now + delay
        self.pid_path.unlink(missing_ok=True)
        how = f"was killed by {_signal_name(-code)}" if code < 0 else f"exited with code {code}"
        how = self._killed_because or how
        self._report(
            f"feedbackmesh up: {self.name} (pid {self._proc.pid}) {how}; "
            f"restarting in {delay:g}s (log: {self.log_path})"
        )

    def _kill_unresponsive(self, liveness: LivenessCheck) -> None:
        """SIGKILL reaches a stopped or hung process too; reaped at once, so the restart
        follows the usual path."""
        assert self._proc is not None
        self._killed_because = (
            f"did not answer its health check {liveness.misses} times in a row "
            f"({liveness.policy.timeout:g}s each), so up killed it"
        )
        self._proc.kill()
        self._proc.wait()

    def terminate(self) -> None:
        """The stop signal (SIGTERM: a service turns NOT_SERVING, drains, then exits)."""
        self._restart_at = None
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(self.stop_signal)

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
