"""FeedbackService throughput, in one run, against the machine's PostgreSQL and Redis.

    python bench/feedback_bench.py [--duration 8] [--analyzers default,vader] [--batch-only]
        [--no-batch-comments]

Servers run as separate processes (`feedbackmesh serve sentiment`, `feedbackmesh serve
feedback`, and an empty-RPC server on the same MeshServer framework); this process is the
client. For each analyzer in ``--analyzers`` (the default analyzer, then the VADER lexicon
as a labelled comparison), with fresh sentiment and feedback processes, it prints the
Markdown table recorded in bench/README.md:

* unary SubmitFeedback/s with p50/p99 at concurrency 16 and 64, every submission carrying a
  comment scored by the real SentimentService, and the same submissions without comments
  (no sentiment call): the share is what scoring costs the write path;
* the empty-RPC ceiling (MeshServer + auth interceptor, a servicer that does nothing);
* BatchSubmitFeedback rows/s (500 items a call, with comments), and how many of the rows
  it wrote were still waiting for a sentiment score when the load ended;
* raw asyncpg single-row INSERT/s on 1 and 16 connections, and COPY rows/s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import grpc

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from feedback_support import (  # noqa: E402
    COMMENTS,
    RAW_TABLE,
    CpuMeter,
    closed_loop,
    raw_copy,
    raw_inserts,
    serve_cmd,
    spawn,
    wait_serving,
)

from feedbackmesh.feedback.v1 import feedback_pb2, feedback_pb2_grpc  # noqa: E402
from mesh_runtime.auth import DEFAULT_USER_SCOPES, mint_token  # noqa: E402
from mesh_runtime.net import free_port  # noqa: E402
from mesh_runtime.postgres import with_database  # noqa: E402
from mesh_runtime.settings import Settings  # noqa: E402

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


# --- the run -----------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> None:
    from feedback_svc.migrations import migrate_database

    db_name = f"fm_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(args.postgres)
    await admin.execute(f'CREATE DATABASE "{db_name}"')
    await admin.close()
    dsn = with_database(args.postgres, db_name)
    settings = Settings(database_url=dsn, redis_url=args.redis)
    await migrate_database(settings)
    common = {"FEEDBACKMESH_LOG_LEVEL": "WARNING", "FEEDBACKMESH_METRICS_PORT": "0"}
    empty_port = free_port()
    empty_server = spawn([__file__, "--role", "empty-server", "--port", str(empty_port)], common)
    tables: list[tuple[str, list[tuple[str, str]]]] = []
    try:
        await wait_serving(empty_port)
        for analyzer in [a for a in args.analyzers.split(",") if a]:
            tables.append((analyzer, await measure(args, analyzer, dsn, db_name, empty_port)))
        conn = await asyncpg.connect(dsn)
        await conn.execute(RAW_TABLE)
        await conn.close()
        raw: list[tuple[str, str]] = []
        for connections in (1, 16):
            rate = await raw_inserts(dsn, connections, min(args.duration, 5.0))
            raw.append((f"raw asyncpg INSERT, {connections} connection(s)", f"{rate:,.0f}/s"))
        raw.append(("raw asyncpg COPY (200,000 rows)", f"{await raw_copy(dsn, 200_000):,.0f}"
                    " rows/s"))  # fmt: skip
        tables.append(("PostgreSQL alone", raw))
    finally:
        stop([empty_server])
        admin = await asyncpg.connect(args.postgres)
        await admin.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        await admin.close()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nload average at the end: {load} (other work on the box skews absolute rates)")
    for title, results in tables:
        print(f"\n| measurement ({os.cpu_count()} cores, {title}) | result |")
        print("|---|---|")
        for name, value in results:
            print(f"| {name} | {value} |")


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


async def measure(
    args: argparse.Namespace, analyzer: str, dsn: str, db_name: str, empty_port: int
) -> list[tuple[str, str]]:
    """One analyzer's rows, with its own sentiment and feedback processes."""
    settings = Settings(database_url=dsn, redis_url=args.redis)
    ports = {name: free_port() for name in ("sentiment", "feedback")}
    common = {"FEEDBACKMESH_LOG_LEVEL": "WARNING", "FEEDBACKMESH_METRICS_PORT": "0"}
    procs = [
        spawn(serve_cmd("sentiment"), {**common, "FEEDBACKMESH_GRPC_PORT": str(ports["sentiment"]),
              "FEEDBACKMESH_SENTIMENT_ANALYZER": analyzer}),
        spawn(serve_cmd("feedback"), {**common, "FEEDBACKMESH_GRPC_PORT": str(ports["feedback"]),
              "FEEDBACKMESH_DATABASE_URL": dsn, "FEEDBACKMESH_REDIS_URL": args.redis,
              "FEEDBACKMESH_PEERS__SENTIMENT": f"127.0.0.1:{ports['sentiment']}"}),
    ]  # fmt: skip
    results: list[tuple[str, str]] = []
    try:
        for port in ports.values():
            await wait_serving(port)
        token = mint_token(settings, tenant_id="bench", user_id="u", scopes=DEFAULT_USER_SCOPES)
        metadata = (("authorization", f"Bearer {token}"),)
        run_id = uuid.uuid4().hex[:6]
        meter = CpuMeter(
            {"client": os.getpid(), "sentiment": procs[0].pid, "feedback": procs[1].pid},
            db_name,
        )  # fmt: skip
        async with (
            grpc.aio.insecure_channel(f"127.0.0.1:{ports['feedback']}") as feedback_channel,
            grpc.aio.insecure_channel(f"127.0.0.1:{empty_port}") as empty_channel,
        ):
            feedback = feedback_pb2_grpc.FeedbackServiceStub(feedback_channel)
            empty = feedback_pb2_grpc.FeedbackServiceStub(empty_channel)

            def submit_request(
                n: int, prefix: str, comment: bool = True
            ) -> feedback_pb2.SubmitFeedbackRequest:
                return feedback_pb2.SubmitFeedbackRequest(
                    request_id=f"{prefix}-{n}", feedback_type=feedback_pb2.FEEDBACK_TYPE_AGENT,
                    agent_id=n % 50 + 1, rating=n % 5 + 1,
                    comment=COMMENTS[n % 4] if comment else "", tags=["bench", f"g{n % 7}"],
                )  # fmt: skip

            empty_rates = {}
            for concurrency in () if args.batch_only else (16, 64):
                rate, p50, p99, errors = await closed_loop(
                    lambda n: empty.GetFeedback(
                        feedback_pb2.GetFeedbackRequest(id=n), metadata=metadata
                    ),
                    concurrency,
                    args.duration,
                    meter=meter,
                    cpu_note=(note := list[str]()),
                )
                empty_rates[concurrency] = rate
                results.append(
                    (f"empty RPC, concurrency {concurrency}",
                     f"{rate:,.0f}/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms, errors {errors};"
                     f" {note[0]}")
                )  # fmt: skip
            for concurrency in () if args.batch_only else (16, 64):
                plain_rate = 0.0
                for comment in (False, True):
                    prefix = f"{run_id}-u{concurrency}-{'c' if comment else 'n'}"
                    rate, p50, p99, errors = await closed_loop(
                        lambda n, p=prefix, c=comment: feedback.SubmitFeedback(  # type: ignore[misc]
                            submit_request(n, p, c), metadata=metadata
                        ),
                        concurrency,
                        args.duration,
                        meter=meter,
                        cpu_note=(note := list[str]()),
                    )
                    share = rate / empty_rates[concurrency] * 100
                    versus = f", {rate / plain_rate * 100:.0f} % of without" if comment else ""
                    plain_rate = rate
                    results.append(
                        (f"SubmitFeedback {'with' if comment else 'without'} comments, "
                         f"concurrency {concurrency}",
                         f"{rate:,.0f}/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms, errors {errors}"
                         f" ({share:.0f} % of the empty RPC{versus}); {note[0]}")
                    )  # fmt: skip
                pending = await pending_rows(dsn, f"{run_id}-u{concurrency}-c-%")
                results.append(("... of those with comments, answered unscored", str(pending)))

            batch_n = iter(range(10**9))

            async def batch_call(_: int) -> None:
                b = next(batch_n)
                requests = [
                    submit_request(b * 500 + i, f"{run_id}-b", not args.no_batch_comments)
                    for i in range(500)
                ]
                await feedback.BatchSubmitFeedback(
                    feedback_pb2.BatchSubmitFeedbackRequest(requests=requests),
                    metadata=metadata,
                    timeout=30,
                )

            rate, p50, p99, errors = await closed_loop(
                batch_call, 4, args.duration, meter=meter, cpu_note=(note := list[str]()),
                units_per_call=500,
            )  # fmt: skip
            results.append(
                ("BatchSubmitFeedback (500/call, concurrency 4"
                 + (", no comments)" if args.no_batch_comments else ")"),
                 f"{rate * 500:,.0f} rows/s, p50 {p50:.0f} ms/call, p99 {p99:.0f} ms/call;"
                 f" {note[0].replace('/call', '/row')}")
            )  # fmt: skip

            # Counted the moment the load ends, before the re-scorer could catch up.
            pending = await pending_rows(dsn, f"{run_id}-b-%")
            results.append(("rows of the batch load left unscored when it ended", str(pending)))
    finally:
        stop(procs)
    return results


async def pending_rows(dsn: str, request_ids: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        count = await conn.fetchval(
            "SELECT count(*) FROM feedback WHERE sentiment_status = 'pending'"
            " AND request_id LIKE $1",
            request_ids,
        )
    finally:
        await conn.close()
    return int(count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per measurement")
    parser.add_argument(
        "--analyzers",
        default="default,vader",
        help="sentiment analyzers to serve, one after another (comma-separated)",
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "FEEDBACKMESH_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument(
        "--redis", default=os.environ.get("FEEDBACKMESH_BENCH_REDIS", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument(
        "--batch-only", action="store_true", help="measure BatchSubmitFeedback and raw rates only"
    )
    parser.add_argument(
        "--no-batch-comments",
        action="store_true",
        help="batch items without comments (no sentiment calls): the write path alone",
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
