"""FeedbackService throughput, in one run, against the machine's PostgreSQL and Redis.

    python bench/feedback_bench.py [--duration 8] [--analyzer vader]

Servers run as separate processes (`feedbackmesh serve sentiment`, `feedbackmesh serve
feedback`, and an empty-RPC server on the same MeshServer framework); this process is the
client. Prints the Markdown table recorded in bench/README.md:

* unary SubmitFeedback/s with p50/p99 at concurrency 16 and 64, every submission carrying a
  comment scored by the real SentimentService;
* the empty-RPC ceiling (MeshServer + auth interceptor, a servicer that does nothing);
* BatchSubmitFeedback rows/s (500 items a call, with comments);
* raw asyncpg single-row INSERT/s on 1 and 16 connections, and COPY rows/s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import grpc
import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from feedbackmesh.feedback.v1 import feedback_pb2, feedback_pb2_grpc  # noqa: E402
from mesh_runtime.auth import DEFAULT_USER_SCOPES, mint_token  # noqa: E402
from mesh_runtime.settings import Settings  # noqa: E402

COMMENTS = [
    "Great answer, it solved my problem quickly.",
    "The agent was slow and the result was wrong.",
    "It was okay, nothing special.",
    "Terrible experience, it ignored my instructions.",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- the empty-RPC server (same framework: MeshServer, interceptor, auth) -------------------


async def _serve_empty(port: int) -> None:
    from feedback_svc.target import METHOD_SCOPES, SERVICE_NAME
    from mesh_runtime.server import MeshServer
    from mesh_runtime.targets import ServiceTarget

    class Empty(feedback_pb2_grpc.FeedbackServiceServicer):
        async def GetFeedback(self, request: Any, context: Any) -> Any:
            return feedback_pb2.Feedback()

    target = ServiceTarget(
        name="empty",
        service_names=[SERVICE_NAME],
        method_scopes=METHOD_SCOPES,
        register=lambda s: feedback_pb2_grpc.add_FeedbackServiceServicer_to_server(Empty(), s),
    )
    server = MeshServer(Settings(), [target], port=port, metrics_port=None, host="127.0.0.1")
    await server.start()
    await server.run_until_signal()


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
        "import sys; from feedbackmesh.cli import main; sys.exit(main())",
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


# --- the run -----------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> None:
    from feedback_svc.migrations import migrate_database

    db_name = f"fm_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(args.postgres)
    await admin.execute(f'CREATE DATABASE "{db_name}"')
    await admin.close()
    dsn = args.postgres.rsplit("/", 1)[0] + f"/{db_name}"
    sqlalchemy_url = dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
    settings = Settings(database_url=sqlalchemy_url, redis_url=args.redis)
    await migrate_database(settings)
    ports = {name: free_port() for name in ("sentiment", "feedback", "empty")}
    common = {"FEEDBACKMESH_LOG_LEVEL": "WARNING", "FEEDBACKMESH_METRICS_PORT": "0"}
    procs = [
        spawn(serve_cmd("sentiment"), {**common, "FEEDBACKMESH_GRPC_PORT": str(ports["sentiment"]),
              "FEEDBACKMESH_SENTIMENT_ANALYZER": args.analyzer}),
        spawn(serve_cmd("feedback"), {**common, "FEEDBACKMESH_GRPC_PORT": str(ports["feedback"]),
              "FEEDBACKMESH_DATABASE_URL": sqlalchemy_url, "FEEDBACKMESH_REDIS_URL": args.redis,
              "FEEDBACKMESH_SENTIMENT_ADDR": f"127.0.0.1:{ports['sentiment']}"}),
        spawn([__file__, "--role", "empty-server", "--port", str(ports["empty"])], common),
    ]  # fmt: skip
    results: list[tuple[str, str]] = []
    try:
        for port in ports.values():
            await wait_serving(port)
        token = mint_token(settings, tenant_id="bench", user_id="u", scopes=DEFAULT_USER_SCOPES)
        metadata = (("authorization", f"Bearer {token}"),)
        run_id = uuid.uuid4().hex[:6]
        meter = CpuMeter(
            {"client": os.getpid(), "sentiment": procs[0].pid, "feedback": procs[1].pid,
             "empty-server": procs[2].pid},
            db_name,
        )  # fmt: skip
        async with (
            grpc.aio.insecure_channel(f"127.0.0.1:{ports['feedback']}") as feedback_channel,
            grpc.aio.insecure_channel(f"127.0.0.1:{ports['empty']}") as empty_channel,
        ):
            feedback = feedback_pb2_grpc.FeedbackServiceStub(feedback_channel)
            empty = feedback_pb2_grpc.FeedbackServiceStub(empty_channel)

            def submit_request(n: int, prefix: str) -> feedback_pb2.SubmitFeedbackRequest:
                return feedback_pb2.SubmitFeedbackRequest(
                    request_id=f"{prefix}-{n}", feedback_type=feedback_pb2.FEEDBACK_TYPE_AGENT,
                    agent_id=n % 50 + 1, rating=n % 5 + 1, comment=COMMENTS[n % 4],
                    tags=["bench", f"g{n % 7}"],
                )  # fmt: skip

            empty_rates = {}
            for concurrency in (16, 64):
                rate, p50, p99, errors = await closed_loop(
                    lambda n: empty.GetFeedback(
                        feedback_pb2.GetFeedbackRequest(id=n), metadata=metadata
                    ),
                    concurrency,
                    args.duration,
                    meter=meter,
                    cpu_note=(note := []),
                )
                empty_rates[concurrency] = rate
                results.append(
                    (f"empty RPC, concurrency {concurrency}",
                     f"{rate:,.0f}/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms, errors {errors};"
                     f" {note[0]}")
                )  # fmt: skip
            for concurrency in (16, 64):
                prefix = f"{run_id}-u{concurrency}"
                rate, p50, p99, errors = await closed_loop(
                    lambda n, p=prefix: feedback.SubmitFeedback(  # type: ignore[misc]
                        submit_request(n, p), metadata=metadata
                    ),
                    concurrency,
                    args.duration,
                    meter=meter,
                    cpu_note=(note := []),
                )
                share = rate / empty_rates[concurrency] * 100
                results.append(
                    (f"SubmitFeedback, concurrency {concurrency}",
                     f"{rate:,.0f}/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms, errors {errors}"
                     f" ({share:.0f} % of the empty RPC); {note[0]}")
                )  # fmt: skip

            batch_n = iter(range(10**9))

            async def batch_call(_: int) -> None:
                b = next(batch_n)
                requests = [submit_request(b * 500 + i, f"{run_id}-b") for i in range(500)]
                await feedback.BatchSubmitFeedback(
                    feedback_pb2.BatchSubmitFeedbackRequest(requests=requests),
                    metadata=metadata,
                    timeout=30,
                )

            rate, p50, p99, errors = await closed_loop(
                batch_call, 4, args.duration, meter=meter, cpu_note=(note := []),
                units_per_call=500,
            )  # fmt: skip
            results.append(
                ("BatchSubmitFeedback (500/call, concurrency 4)",
                 f"{rate * 500:,.0f} rows/s, p50 {p50:.0f} ms/call, p99 {p99:.0f} ms/call;"
                 f" {note[0].replace('/call', '/row')}")
            )  # fmt: skip

        conn = await asyncpg.connect(dsn)
        status = dict(
            await conn.fetch(
                "SELECT sentiment_status, count(*) FROM feedback GROUP BY sentiment_status"
            )
        )
        await conn.execute(RAW_TABLE)
        await conn.close()
        results.append(("sentiment status of the rows written", str(status)))
        for connections in (1, 16):
            rate = await raw_inserts(dsn, connections, min(args.duration, 5.0))
            results.append((f"raw asyncpg INSERT, {connections} connection(s)", f"{rate:,.0f}/s"))
        results.append(("raw asyncpg COPY (200,000 rows)", f"{await raw_copy(dsn, 200_000):,.0f}"
                        " rows/s"))  # fmt: skip
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        admin = await asyncpg.connect(args.postgres)
        await admin.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        await admin.close()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nload average at the end: {load} (other work on the box skews absolute rates)")
    print(f"\n| measurement ({os.cpu_count()} cores, analyzer {args.analyzer}) | result |")
    print("|---|---|")
    for name, value in results:
        print(f"| {name} | {value} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per measurement")
    parser.add_argument("--analyzer", default="vader", help="sentiment analyzer to serve")
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "FEEDBACKMESH_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument(
        "--redis", default=os.environ.get("FEEDBACKMESH_BENCH_REDIS", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument("--role", choices=["client", "empty-server"], default="client")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    if args.role == "empty-server":
        asyncio.run(_serve_empty(args.port))
    else:
        asyncio.run(run(args))


if __name__ == "__main__":
    main()
