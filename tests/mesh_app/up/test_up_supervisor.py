"""The restart policy of `feedbackmesh up`: a crashed process is reported and restarted after
1 s, 2 s, 4 s ... 30 s; a process that ran long enough starts again from 1 s."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from mesh_app.up.rundir import reap_stale
from mesh_app.up.supervisor import Backoff, ManagedProcess


def test_backoff_doubles_from_one_second_up_to_thirty() -> None:
    backoff = Backoff()
    delays = [backoff.next_delay(ran_for=0.5) for _ in range(8)]
    assert delays == [1, 2, 4, 8, 16, 30, 30, 30]


def test_backoff_resets_after_a_healthy_run() -> None:
    backoff = Backoff(reset_after=60)
    for _ in range(4):
        backoff.next_delay(ran_for=1)
    assert backoff.next_delay(ran_for=61) == 1
    assert backoff.next_delay(ran_for=1) == 2


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _wait_exit(proc: ManagedProcess) -> None:
    deadline = time.monotonic() + 10
    while proc.pid is not None and time.monotonic() < deadline:
        time.sleep(0.02)


def test_crashed_process_is_reported_and_restarted_with_backoff(tmp_path: Path) -> None:
    clock = FakeClock()
    reports: list[str] = []
    launches: list[int] = []

    def launch() -> subprocess.Popen[bytes]:
        launches.append(1)
        return subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])

    proc = ManagedProcess(
        "crashy", launch, tmp_path / "crashy.log", tmp_path, report=reports.append, clock=clock
    )
    proc.start()
    assert (tmp_path / "crashy.pid").exists()
    _wait_exit(proc)
    proc.check()
    assert reports == [
        f"feedbackmesh up: crashy (pid {reports[0].split('pid ')[1].split(')')[0]}) exited "
        f"with code 3; restarting in 1s (log: {tmp_path / 'crashy.log'})"
    ]
    assert not (tmp_path / "crashy.pid").exists()
    clock.now += 0.5
    proc.check()
    assert len(launches) == 1  # not yet due
    clock.now += 0.6
    proc.check()
    assert len(launches) == 2 and proc.restarts == 1
    _wait_exit(proc)
    proc.check()
    assert "restarting in 2s" in reports[-1]
    proc.terminate()


def test_terminate_stops_without_restart(tmp_path: Path) -> None:
    def launch() -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])

    proc = ManagedProcess("sleepy", launch, tmp_path / "s.log", tmp_path, report=print)
    proc.start()
    assert proc.pid is not None
    proc.terminate()
    proc.wait(time.monotonic() + 10)
    assert proc.pid is None
    proc.check()
    assert proc.pid is None and proc.restarts == 0
    assert proc.status()["pid"] is None


def test_reap_stale_kills_only_what_a_dead_up_left(tmp_path: Path) -> None:
    ours = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "feedbackmesh"])
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    status = {"processes": {"feedback": {"pid": ours.pid}}, "envoy": {"pid": other.pid}}
    path = tmp_path / "status.json"
    path.write_text(json.dumps(status))
    try:
        for proc in (ours, other):  # until both have exec'd (a busy machine takes a while)
            deadline = time.monotonic() + 30
            while b"time.sleep" not in Path(f"/proc/{proc.pid}/cmdline").read_bytes():
                assert time.monotonic() < deadline
                time.sleep(0.01)
        assert reap_stale(path) == [ours.pid]
        assert ours.wait(timeout=10) == -signal.SIGKILL
        assert other.poll() is None
        assert not path.exists()
    finally:
        other.kill()
        other.wait()
        ours.kill()
