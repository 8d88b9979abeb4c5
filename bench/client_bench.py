"""The Python client (issue L) in one run: install footprint, import time, and submits/s
through the facade against the raw generated stubs.

    python bench/client_bench.py [--duration 8] [--rounds 2] [--analyzer vader]
        [--no-footprint] [--no-throughput]

Footprint: builds the client wheel, installs it with its dependencies (from the package
index) into a fresh venv made without pip, and sums site-packages per distribution;
import time is the median wall time of ``import feedbackmesh.client`` in 15 fresh
interpreters minus that of an empty one.

Throughput: `feedbackmesh serve sentiment` and `feedbackmesh serve feedback` as processes
(on the machine's PostgreSQL and Redis), plus feedback_bench.py's empty-RPC server. This
process submits through ``AsyncFeedbackMeshClient.submit`` and through the raw stub (the
same fields, a uuid4 request_id each) in alternating rounds, closed loop at concurrency
16; then the blocking client against the blocking stub on 16 threads; then ``get`` against
the empty server, where only the client's own cost differs. Prints the Markdown recorded
in bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import grpc

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from feedback_support import COMMENTS, CpuMeter, closed_loop, serve_cmd, spawn, wait_serving  # noqa: E402

from feedbackmesh.client import AsyncFeedbackMeshClient, FeedbackMeshClient, FeedbackType  # noqa: E402
from feedbackmesh.feedback.v1 import feedback_pb2, feedback_pb2_grpc  # noqa: E402
from mesh_runtime.auth import DEFAULT_USER_SCOPES, bearer_metadata, mint_token  # noqa: E402
from mesh_runtime.net import free_port  # noqa: E402
from mesh_runtime.postgres import with_database  # noqa: E402
from mesh_runtime.settings import Settings  # noqa: E402

CONCURRENCY = 16
IMPORT = "import feedbackmesh.client"


# --- footprint and import time ---------------------------------------------------------------


def footprint() -> list[str]:
    with tempfile.TemporaryDirectory(prefix="fm-client-bench-") as tmp:
        root = Path(tmp)
        source = root / "python"
        skip = shutil.ignore_patterns("build", "*.egg-info", "__pycache__")
        shutil.copytree(REPO / "clients" / "python", source, ignore=skip)
        pip = [sys.executable, "-m", "pip"]
        wheel_args = ["wheel", "-q", "--no-deps", "-w", str(root)]
        subprocess.run([*pip, *wheel_args, str(source)], check=True)
        [wheel] = root.glob("feedbackmesh_client-*.whl")
        venv = root / "venv"
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
        python = venv / "bin" / "python"
        subprocess.run([*pip, "--python", str(python), "install", "-q", str(wheel)], check=True)
        [site] = venv.glob("lib/python*/site-packages")
        sizes = {
            info.name.split("-")[0]: _record_bytes(site, info) for info in site.glob("*.dist-info")
        }
        total = sum(f.stat().st_size for f in site.rglob("*") if f.is_file())
        lines = [
            f"site-packages {total / 2**20:.1f} MiB (wheel {wheel.stat().st_size / 1024:.0f} KiB):"
        ]
        lines += [
            f"  {name} {size / 2**20:.1f} MiB"
            for name, size in sorted(sizes.items(), key=lambda kv: -kv[1])
        ]
        times = _import_times(python)
        empty_wall, empty_cpu = times.pop("pass")
        lines += [
            f"{code}: {(cpu - empty_cpu) * 1000:.0f} ms CPU, {(wall - empty_wall) * 1000:.0f} ms"
            f" wall (beyond an empty interpreter's {empty_cpu * 1000:.0f} / "
            f"{empty_wall * 1000:.0f} ms; medians of 15)"
            for code, (wall, cpu) in times.items()
        ]
        return lines


def _record_bytes(site: Path, info: Path) -> int:
    total = 0
    for line in (info / "RECORD").read_text().splitlines():
        path = site / line.split(",")[0]
        if path.is_file():
            total += path.stat().st_size
    return total


def _import_times(python: Path) -> dict[str, tuple[float, float]]:
    """Per snippet: (median wall s, median CPU s of the child) over 15 fresh interpreters."""
    runs: dict[str, list[tuple[float, float]]] = {"pass": [], "import grpc": [], IMPORT: []}
    for _ in range(15):
        for code, found in runs.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run([str(python), "-c", code], check=True)
            wall = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
            found.append((wall, cpu))
    return {
        code: (statistics.median(w for w, _ in found), statistics.median(c for _, c in found))
        for code, found in runs.items()
    }


# --- throughput ------------------------------------------------------------------------------


def fields(n: int) -> dict[str, Any]:
    return {
        "feedback_type": FeedbackType.AGENT,
        "agent_id": n % 50 + 1,
        "rating": n % 5 + 1,
        "comment": COMMENTS[n % 4],
        "tags": ["bench", f"g{n % 7}"],
    }


def thread_loop(
    call: Callable[[int], Any], threads: int, duration: float, meter: CpuMeter
) -> tuple[float, str]:
    """(calls/s, CPU note) of ``threads`` blocking callers over ``duration`` (after 1 s)."""
    counter = iter(range(10**12))
    done = [0] * threads
    lock = threading.Lock()
    measure_from = time.perf_counter() + 1.0
    stop_at = measure_from + duration
    meter.start()

    def worker(slot: int) -> None:
        while (now := time.perf_counter()) < stop_at:
            with lock:
                n = next(counter)
            call(n)
            if now >= measure_from:
                done[slot] += 1

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    total = next(counter)
    return sum(done) / duration, meter.stop(total)


async def throughput(args: argparse.Namespace) -> list[str]:
    from feedback_svc.migrations import migrate_database

    db_name = f"fm_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(args.postgres)
    await admin.execute(f'CREATE DATABASE "{db_name}"')
    await admin.close()
    settings = Settings(database_url=with_database(args.postgres, db_name), redis_url=args.redis)
    await migrate_database(settings)
    ports = {name: free_port() for name in ("sentiment", "feedback", "empty")}
    common = {"FEEDBACKMESH_LOG_LEVEL": "WARNING", "FEEDBACKMESH_METRICS_PORT": "0"}
    procs = [
        spawn(serve_cmd("sentiment"), {**common, "FEEDBACKMESH_GRPC_PORT": str(ports["sentiment"]),
              "FEEDBACKMESH_SENTIMENT_ANALYZER": args.analyzer}),
        spawn(serve_cmd("feedback"), {**common, "FEEDBACKMESH_GRPC_PORT": str(ports["feedback"]),
              "FEEDBACKMESH_DATABASE_URL": settings.database_url.get_secret_value(),  # type: ignore[union-attr]
              "FEEDBACKMESH_REDIS_URL": args.redis,
              "FEEDBACKMESH_PEERS__SENTIMENT": f"127.0.0.1:{ports['sentiment']}"}),
        spawn([str(REPO / "bench" / "feedback_bench.py"), "--role", "empty-server",
               "--port", str(ports["empty"])], common),
    ]  # fmt: skip
    rows = ["| path | calls/s | p50 ms | p99 ms | CPU us/call |", "|---|---|---|---|---|"]
    try:
        for port in ports.values():
            await wait_serving(port)
        token = mint_token(settings, tenant_id="bench", user_id="u", scopes=DEFAULT_USER_SCOPES)
        metadata = bearer_metadata(token)
        feedback, empty = (f"127.0.0.1:{ports[n]}" for n in ("feedback", "empty"))
        pids = {"client": os.getpid(), "feedback": procs[1].pid, "sentiment": procs[0].pid}
        meter = CpuMeter({**pids, "empty-server": procs[2].pid}, db_name)
        options: dict[str, Any] = {"token": token, "tls": False}
        async with (
            AsyncFeedbackMeshClient(feedback, **options) as client,
            AsyncFeedbackMeshClient(empty, **options) as empty_client,
            grpc.aio.insecure_channel(feedback) as channel,
            grpc.aio.insecure_channel(empty) as empty_channel,
        ):
            stub = feedback_pb2_grpc.FeedbackServiceStub(channel)
            empty_stub = feedback_pb2_grpc.FeedbackServiceStub(empty_channel)

            def raw(n: int) -> Any:
                request = feedback_pb2.SubmitFeedbackRequest(
                    request_id=uuid.uuid4().hex, **fields(n)
                )
                return stub.SubmitFeedback(request, metadata=metadata, timeout=30)

            def raw_get(n: int) -> Any:
                request = feedback_pb2.GetFeedbackRequest(id=n)
                return empty_stub.GetFeedback(request, metadata=metadata, timeout=30)

            paths: list[tuple[str, Callable[[int], Any]]] = [
                ("raw stub SubmitFeedback", raw),
                ("AsyncFeedbackMeshClient.submit", lambda n: client.submit(**fields(n))),
                ("raw stub GetFeedback, empty server", raw_get),
                ("AsyncFeedbackMeshClient.get, empty server", lambda n: empty_client.get(n)),
            ]
            for round_ in range(args.rounds):
                for name, call in paths:
                    note: list[str] = []
                    rate, p50, p99, errors = await closed_loop(
                        call, CONCURRENCY, args.duration, meter=meter, cpu_note=note
                    )
                    cells = [
                        f"{rate:,.0f}",
                        f"{p50:.1f}",
                        f"{p99:.1f}",
                        f"{note[0]}, {errors} errors",
                    ]
                    rows.append(f"| {name} (round {round_ + 1}) | {' | '.join(cells)} |")
        rows += await asyncio.to_thread(_blocking_rows, feedback, token, args, meter)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
        admin = await asyncpg.connect(args.postgres)
        await admin.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        await admin.close()
    return rows


def _blocking_rows(
    address: str, token: str, args: argparse.Namespace, meter: CpuMeter
) -> list[str]:
    rows = []
    metadata = bearer_metadata(token)
    with (
        FeedbackMeshClient(address, token=token, tls=False) as client,
        grpc.insecure_channel(address) as channel,
    ):
        stub = feedback_pb2_grpc.FeedbackServiceStub(channel)

        def raw(n: int) -> Any:
            request = feedback_pb2.SubmitFeedbackRequest(request_id=uuid.uuid4().hex, **fields(n))
            return stub.SubmitFeedback(request, metadata=metadata, timeout=30)

        for round_ in range(args.rounds):
            for name, call in (
                ("blocking raw stub", raw),
                ("FeedbackMeshClient.submit", lambda n: client.submit(**fields(n))),
            ):
                rate, note = thread_loop(call, CONCURRENCY, args.duration, meter)
                label = f"{name}, {CONCURRENCY} threads (round {round_ + 1})"
                rows.append(f"| {label} | {rate:,.0f} | | | {note} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per path")
    parser.add_argument("--analyzer", default="vader", help="sentiment analyzer to serve")
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "FEEDBACKMESH_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--redis", default=os.environ.get(
        "FEEDBACKMESH_BENCH_REDIS", "redis://127.0.0.1:6379/0"))  # fmt: skip
    parser.add_argument("--no-footprint", action="store_true")
    parser.add_argument("--no-throughput", action="store_true")
    args = parser.parse_args()
    with open("/proc/loadavg") as loadavg:
        print(f"load average before: {loadavg.read().split()[:3]}")
    if not args.no_footprint:
        print("\n".join(footprint()))
    if not args.no_throughput:
        print("\n".join(asyncio.run(throughput(args))))
    with open("/proc/loadavg") as loadavg:
        print(f"load average after: {loadavg.read().split()[:3]}")


if __name__ == "__main__":
    main()
