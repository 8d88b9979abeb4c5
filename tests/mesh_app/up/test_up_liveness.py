"""`feedbackmesh up` notices a child that stops answering (issue H: a SIGSTOPped child was
never noticed) and restarts it; a child that answers, even "not serving", is left alone.
Its logs are size-capped."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from grpc_health.v1 import health_pb2

from mesh_app.up.liveness import LivenessCheck, LivenessPolicy, grpc_probe, valkey_probe
from mesh_app.up.logrotate import rotate_if_large
from mesh_app.up.supervisor import ManagedProcess
from mesh_runtime.net import free_port
from mesh_runtime.server import MeshServer
from mesh_runtime.settings import Settings

# Answers "+PONG" to anything, like Valkey to PING, until it is stopped.
PONG_SERVER = """
import socket, sys
server = socket.create_server(("127.0.0.1", int(sys.argv[1])))
while True:
    conn, _ = server.accept()
    conn.recv(64)
    conn.sendall(b"+PONG\\r\\n")
    conn.close()
"""
FAST = LivenessPolicy(interval=0.2, timeout=0.5, failures=3, startup_grace=30.0)


@pytest.fixture
def probes() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=2) as executor:
        yield executor


def _until(condition: Callable[[], bool], step: Callable[[], None], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        step()
        time.sleep(0.05)


def test_a_stopped_child_is_killed_and_restarted(
    tmp_path: Path, probes: ThreadPoolExecutor
) -> None:
    port = free_port()
    reports: list[str] = []

    def launch() -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-c", PONG_SERVER, str(port)])

    check = LivenessCheck(valkey_probe(port), FAST, probes)
    proc = ManagedProcess(
        "pong", launch, tmp_path / "pong.log", tmp_path, liveness=check, report=reports.append
    )
    proc.start()
    try:
        first = proc.pid
        assert first is not None
        _until(lambda: valkey_probe(port)(1.0), proc.check)
        for _ in range(10):  # answering: left alone
            proc.check()
            time.sleep(FAST.interval)
        assert proc.pid == first and not reports
        subprocess.run(["kill", "-STOP", str(first)], check=True)
        _until(lambda: proc.restarts == 1 and proc.pid not in (None, first), proc.check)
        assert reports == [
            f"feedbackmesh up: pong (pid {first}) did not answer its health check 3 times in a "
            f"row (0.5s each), so up killed it; restarting in 1s (log: {tmp_path / 'pong.log'})"
        ]
        _until(lambda: valkey_probe(port)(1.0), proc.check)  # the new one answers
    finally:
        proc.terminate()
        proc.wait(time.monotonic() + 10)


async def test_a_service_that_answers_not_serving_is_alive(settings: Settings) -> None:
    server = MeshServer(settings, [], port=0, metrics_port=None, host="127.0.0.1")
    await server.start()
    try:
        await server._health.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
        probe = grpc_probe(f"127.0.0.1:{server.port}")
        assert await asyncio.to_thread(probe, 5.0)
    finally:
        await server.stop(grace=0, delay=0)
    assert not await asyncio.to_thread(probe, 1.0)  # nobody listening: no answer


def test_misses_before_the_first_answer_count_only_after_the_grace(
    probes: ThreadPoolExecutor,
) -> None:
    policy = LivenessPolicy(interval=0.0, timeout=0.1, failures=2, startup_grace=100.0)
    check = LivenessCheck(lambda timeout: False, policy, probes)
    check.restart(now=0.0)
    for now in (1.0, 2.0, 3.0, 4.0):  # starting slowly: never due
        assert not _step(check, now)
    assert check.misses == 0
    assert not _step(check, 101.0) and check.misses == 1
    assert _step(check, 102.0) and check.misses == 2


def _step(check: LivenessCheck, now: float) -> bool:
    """One loop of `up`; returns once the probe it started (if any) has finished."""
    due = check.due(now)
    while check._pending is not None and not check._pending.done():
        time.sleep(0.01)
    return due


def test_logs_rotate_past_the_cap_keeping_the_newest_copies(tmp_path: Path) -> None:
    log = tmp_path / "envoy.log"
    for generation in range(5):
        # Written through an append-mode handle kept open, as a child writes its log.
        with log.open("ab") as out:
            out.write(f"{generation}".encode() * 1500)
        assert rotate_if_large(log, max_bytes=1000, backups=2)
        assert log.stat().st_size == 0
    assert (tmp_path / "envoy.log.1").read_bytes() == b"4" * 1500
    assert (tmp_path / "envoy.log.2").read_bytes() == b"3" * 1500
    assert not (tmp_path / "envoy.log.3").exists()
    log.write_bytes(b"small")
    assert not rotate_if_large(log, max_bytes=1000, backups=2)


def test_an_append_mode_writer_continues_at_the_start_after_rotation(tmp_path: Path) -> None:
    log = tmp_path / "svc.log"
    writer = subprocess.Popen(
        [sys.executable, "-c", "import sys,time\nfor i in range(400):\n"
         " sys.stdout.write('x'*99+'\\n'); sys.stdout.flush(); time.sleep(0.005)"],
        stdout=log.open("ab"),
    )  # fmt: skip
    try:
        rotated = 0
        while writer.poll() is None:
            rotated += rotate_if_large(log, max_bytes=5000, backups=1)
            time.sleep(0.02)
    finally:
        writer.wait()
    assert rotated >= 3
    # No hole of NUL bytes: the writer's offset followed the truncation.
    assert b"\0" not in log.read_bytes()
    assert log.stat().st_size < 5000 + 100 * 20


def test_stop_signal_is_sent_on_terminate(tmp_path: Path) -> None:
    script = "import signal,sys,time\nsignal.signal(signal.SIGINT, lambda *a: sys.exit(7))\n"
    script += "print('ready', flush=True)\ntime.sleep(60)"

    def launch() -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)

    proc = ManagedProcess("pg", launch, tmp_path / "pg.log", tmp_path, stop_signal=signal.SIGINT)
    proc.start()
    assert proc._proc is not None and proc._proc.stdout is not None
    assert proc._proc.stdout.readline() == b"ready\n"
    proc.terminate()
    proc.wait(time.monotonic() + 10)
    assert proc._proc.returncode == 7
