"""Load generation, server processes, CPU accounting and raw PostgreSQL rates for
bench/feedback_bench.py."""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import grpc
import psutil

REPO = Path(__file__).resolve().parent.parent
COMMENTS = [
    "Great answer, it solved my problem quickly.",
    "The agent was slow and the result was wrong.",
    "It was okay, nothing special.",
    "Terrible experience, it ignored my instructions.",
]


# --- load generation ---------------------------------------------------------------------


async def closed_loop(
    call: Callable[[int], Awaitable[Any]],
    concurrency: int,
    duration: float,
    warmup: float = 1.0,
    meter: CpuMeter | None = None,
    cpu_note: list[str] | None = None,
    units_per_call: int = 1,
) -> tuple[float, float, float, int]:
    """(calls/s, p50 ms, p99 ms, errors) over ``duration`` after ``warmup``; CPU per call
    (warm-up included in both the CPU and the call count) appended to ``cpu_note``."""
    latencies: list[float] = []
    errors = 0
    warmup_calls = 0
    cpu_note = cpu_note if cpu_note is not None else []
    if meter is not None:
        meter.start()
    counter = iter(range(10**12))
    start = time.perf_counter()
    measure_from = start + warmup
    stop_at = measure_from + duration

    async def worker() -> None:
        nonlocal errors, warmup_calls
        while (now := time.perf_counter()) < stop_at:
            try:
                await call(next(counter))
            except grpc.aio.AioRpcError:
                errors += 1
                continue
            if now >= measure_from:
                latencies.append(time.perf_counter() - now)
            else:
                warmup_calls += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    latencies.sort()
    rate = len(latencies) / duration
    if meter is not None:
        cpu_note.append(meter.stop((len(latencies) + warmup_calls) * units_per_call))
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99)] * 1000
    return rate, p50, p99, errors


async def wait_serving(port: int, timeout: float = 60.0) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    deadline = time.monotonic() + timeout
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            try:
                reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"server on port {port} did not start")
            await asyncio.sleep(0.2)


def spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, *args], env={**os.environ, **env}, cwd=REPO, stdout=subprocess.DEVNULL
    )


def serve_cmd(target: str) -> list[str]:
    return [
        "-c",
        "import sys; from mesh_app.cli import main; sys.exit(main())",
        "serve",
        target,
    ]


# --- CPU accounting: the box is shared, so CPU time per call is the load-independent figure --


class CpuMeter:
    """CPU seconds used by named processes (PostgreSQL: the backends of the bench database
    plus its WAL writer) between ``start`` and ``stop``."""

    def __init__(self, pids: dict[str, int], database: str) -> None:
        self._pids = pids
        self._database = database
        self._before: dict[str, float] = {}

    def _postgres(self) -> float:
        total = 0.0
        for proc in psutil.process_iter(["name", "cmdline"]):
            try:
                line = " ".join(proc.info["cmdline"] or [])
                if proc.info["name"] == "postgres" and (
                    self._database in line or "walwriter" in line
                ):
                    times = proc.cpu_times()
                    total += times.user + times.system
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return total

    def sample(self) -> dict[str, float]:
        sample = {}
        for name, pid in self._pids.items():
            times = psutil.Process(pid).cpu_times()
            sample[name] = times.user + times.system
        sample["postgres"] = self._postgres()
        return sample

    def start(self) -> None:
        self._before = self.sample()

    def stop(self, calls: float) -> str:
        after = self.sample()
        parts = [
            f"{name} {(after[name] - self._before[name]) / calls * 1e6:,.0f}"
            for name in after
            if after[name] - self._before[name] > 0.005
        ]
        return "CPU us/call: " + ", ".join(parts)


# --- raw PostgreSQL ----------------------------------------------------------------------

RAW_TABLE = """
CREATE TABLE bench_raw (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tenant_id TEXT,
    rating SMALLINT, comment TEXT, created_at TIMESTAMPTZ DEFAULT now())
"""


async def raw_inserts(dsn: str, connections: int, duration: float) -> float:
    pool = await asyncpg.create_pool(dsn, min_size=connections, max_size=connections)
    assert pool is not None
    done = 0
    stop_at = time.perf_counter() + duration

    async def worker() -> None:
        nonlocal done
        async with pool.acquire() as conn:
            while time.perf_counter() < stop_at:
                await conn.execute(
                    "INSERT INTO bench_raw (tenant_id, rating, comment) VALUES ($1, $2, $3)",
                    "t", 3, COMMENTS[0],
                )  # fmt: skip
                done += 1

    await asyncio.gather(*(worker() for _ in range(connections)))
    await pool.close()
    return done / duration


async def raw_copy(dsn: str, rows: int) -> float:
    conn = await asyncpg.connect(dsn)
    records = [("t", i % 5 + 1, COMMENTS[i % 4]) for i in range(rows)]
    started = time.perf_counter()
    await conn.copy_records_to_table(
        "bench_raw", records=records, columns=["tenant_id", "rating", "comment"]
    )
    elapsed = time.perf_counter() - started
    await conn.close()
    return rows / elapsed
