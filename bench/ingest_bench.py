"""Ingestion benchmark: sustained outbox drain, end-to-end lag under load, and the plan's
one-insert-per-message way for the ratio.

    python bench/ingest_bench.py [--prefill 100000] [--rate 1000] [--lag-seconds 20]
                                 [--plan-events 10000] [--skip-plan]

PostgreSQL and Redis: FEEDBACKMESH_BENCH_DATABASE_URL (a maintenance database; a fresh
database is created and dropped) and FEEDBACKMESH_BENCH_REDIS_URL. ClickHouse: chDB in a
temporary directory. Everything (sentiment, feedback, ingest, the load) runs in this one
process, so the numbers are a floor for a deployment with one process per service.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import asyncpg  # noqa: E402
import grpc  # noqa: E402
from feedback_support import CpuMeter  # noqa: E402
from ingest_plan import plan_way, writer_capacity  # noqa: E402
from prometheus_client import REGISTRY  # noqa: E402
from pydantic import SecretStr  # noqa: E402

from feedback_svc.migrations import migrate_database  # noqa: E402
from feedbackmesh.feedback.v1 import feedback_pb2, feedback_pb2_grpc  # noqa: E402
from ingest_svc.repository import ClickHouseRepository  # noqa: E402
from mesh_app.local import LocalMesh  # noqa: E402
from mesh_runtime.auth import SCOPE_FEEDBACK_WRITE, SCOPE_INTERNAL, mint_token  # noqa: E402
from mesh_runtime.net import free_port  # noqa: E402
from mesh_runtime.postgres import with_database  # noqa: E402
from mesh_runtime.server import MeshServer  # noqa: E402
from mesh_runtime.settings import Settings  # noqa: E402

COMMENTS = ["", "", "", "great agent", "useless answer", "fine", "very helpful, thanks"]


def request(rng: random.Random) -> feedback_pb2.SubmitFeedbackRequest:
    kind = rng.choice(
        [
            feedback_pb2.FEEDBACK_TYPE_EXECUTION,
            feedback_pb2.FEEDBACK_TYPE_AGENT,
            feedback_pb2.FEEDBACK_TYPE_CHAT,
            feedback_pb2.FEEDBACK_TYPE_GENERAL,
        ]
    )
    r = feedback_pb2.SubmitFeedbackRequest(
        request_id=uuid.uuid4().hex, feedback_type=kind, rating=rng.randint(1, 5),
        comment=rng.choice(COMMENTS), tags=rng.sample(["a", "b", "c", "d"], rng.randint(0, 2)),
    )  # fmt: skip
    if kind == 1:
        r.execution_id = rng.randint(1, 1000)
    elif kind == 2:
        r.agent_id = rng.randint(1, 50)
    elif kind == 3:
        r.chat_session_id = f"c{rng.randint(1, 500)}"
    return r


class Bench:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.mesh = LocalMesh()
        self.rng = random.Random(1)

    async def serve(self, names: list[str], settings: Settings) -> MeshServer:
        return await self.mesh.start(names, settings)

    async def start_backends(self) -> None:
        """FeedbackService + SentimentService in their own process (as deployed), so the
        ingest numbers are not shared with the outbox's PostgreSQL work on one core."""
        port = free_port()
        env = dict(os.environ)
        env.update(
            FEEDBACKMESH_DATABASE_URL=self.settings.database_url.get_secret_value(),  # type: ignore[union-attr]
            FEEDBACKMESH_REDIS_URL=self.settings.redis_url.get_secret_value(),  # type: ignore[union-attr]
            FEEDBACKMESH_REDIS_CHANNEL=self.settings.redis_channel,
            FEEDBACKMESH_SENTIMENT_ANALYZER="vader",
            FEEDBACKMESH_SENTIMENT_TIMEOUT_SECONDS="5",
            FEEDBACKMESH_GRPC_PORT=str(port),
            FEEDBACKMESH_METRICS_PORT="0",
            FEEDBACKMESH_LOG_LEVEL="ERROR",
        )
        self.backend = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "mesh_app.cli", "serve", "feedback", "sentiment",
            env=env, cwd=REPO, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        self.settings = self.settings.with_peers(feedback=f"127.0.0.1:{port}")
        self.channel = grpc.aio.insecure_channel(self.settings.peer("feedback"))
        self.stub = feedback_pb2_grpc.FeedbackServiceStub(self.channel)
        await asyncio.wait_for(self.channel.channel_ready(), 60)
        while True:  # serving once the health check says so
            try:
                await self.outbox_backlog()
                return
            except grpc.aio.AioRpcError:
                await asyncio.sleep(0.2)

    def metadata(self, tenant: str, user: str) -> tuple[tuple[str, str], ...]:
        token = mint_token(self.settings, tenant_id=tenant, user_id=user,
                           scopes=[SCOPE_FEEDBACK_WRITE, SCOPE_INTERNAL])  # fmt: skip
        return (("authorization", f"Bearer {token}"),)

    async def submit(self, count: int, tenant: str, batch: int = 500) -> None:
        for start in range(0, count, batch):
            size = min(batch, count - start)
            reply = await self.stub.BatchSubmitFeedback(
                feedback_pb2.BatchSubmitFeedbackRequest(
                    requests=[request(self.rng) for _ in range(size)]
                ),
                metadata=self.metadata(tenant, f"user-{self.rng.randint(1, 200)}"),
            )
            assert reply.created_count == size, reply

    async def outbox_backlog(self) -> int:
        reply = await self.stub.GetOutboxStatus(
            feedback_pb2.GetOutboxStatusRequest(), metadata=self.metadata("_mesh", "bench")
        )
        return int(reply.backlog) + int(reply.pending_sentiment)

    async def drained(self, done: Callable[[int], bool] = lambda backlog: backlog == 0) -> None:
        """Polls the outbox (backlog + pending sentiment) until ``done(backlog)``."""
        while not done(await self.outbox_backlog()):  # noqa: ASYNC110 - a remote condition
            await asyncio.sleep(0.05)

    async def prefill(self, count: int) -> float:
        started = time.perf_counter()
        per_task = count // 8
        await asyncio.gather(*(self.submit(per_task, f"bench-{i}") for i in range(8)))
        await self.drained(lambda backlog: backlog >= per_task * 8)
        return time.perf_counter() - started

    async def pull_rate(self, count: int) -> float:
        """PullOutboxEvents alone (no insert, no ack): FeedbackService's side of the drain."""
        started, after, pulled = time.perf_counter(), 0, 0
        metadata = self.metadata("_mesh", "bench")
        while pulled < count:
            reply = await self.stub.PullOutboxEvents(
                feedback_pb2.PullOutboxEventsRequest(
                    max_events=self.settings.ingest_batch_size, after_sequence=after
                ),
                metadata=metadata,
            )
            if not reply.events:
                break
            pulled += len(reply.events)
            after = reply.events[-1].sequence
        return pulled / (time.perf_counter() - started)

    async def sustained(self, count: int) -> float:
        started = time.perf_counter()
        database = self.settings.database_url.get_secret_value().rsplit("/", 1)[1]  # type: ignore[union-attr]
        meter = CpuMeter({"ingest": os.getpid(), "feedback": self.backend.pid}, database)
        await self.serve(["ingest"], self.settings)  # migrates ClickHouse, starts the worker
        meter.start()
        running = time.perf_counter()
        await self.drained()
        elapsed = time.perf_counter() - running
        print(f"sustained drain {meter.stop(count / 10_000).replace('/call', ' per 10,000 rows')}"
              " (ingest: the whole process, chDB's background merges included)")  # fmt: skip
        inserts = REGISTRY.get_sample_value("ingest_clickhouse_insert_seconds_sum") or 0.0
        batches = REGISTRY.get_sample_value("ingest_batch_rows_count", {"path": "outbox"})
        print(f"sustained: {count} rows in {elapsed:.2f}s = {count / elapsed:,.0f} rows/s "
              f"(outbox pull + ClickHouse insert + ack; start-up {running - started:.1f}s "
              f"not counted); {batches:.0f} batches, feedback_events inserts "
              f"{inserts:.2f}s in all")  # fmt: skip
        return count / elapsed

    async def lag(self, rate: int, seconds: float) -> None:
        # The load comes from another process, so this one only ingests.
        load = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--load", str(rate), str(seconds),
            self.settings.peer("feedback"), env={**os.environ,
            "FEEDBACKMESH_JWT_SECRET": self.settings.jwt_secret.get_secret_value()},
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, _ = await load.communicate()
        achieved = float(out.decode().strip() or 0)
        await self.drained()
        await asyncio.sleep(0.5)
        repo = ClickHouseRepository(self.settings)
        db = self.settings.clickhouse_database
        # ingested_at (ClickHouse insert) - created_at (PostgreSQL commit), per row, and
        # its two legs: commit -> outbox release (FeedbackService), release -> insert (us).
        result = repo._client.query(
            "SELECT count(), "
            "quantilesExact(0.5, 0.99, 1)(dateDiff('millisecond', created_at, ingested_at)), "
            "quantilesExact(0.5, 0.99)(dateDiff('millisecond', created_at, released_at)), "
            "quantilesExact(0.5, 0.99)(dateDiff('millisecond', released_at, ingested_at)) "
            f"FROM `{db}`.feedback_events WHERE tenant_id = 'lag'"
        ).result_rows[0]
        repo.close()
        (p50, p99, top), release, ingest = result[1], result[2], result[3]
        print(
            f"lag: {result[0]} rows at {achieved:,.0f} submissions/s: end-to-end "
            f"p50 {p50} ms, p99 {p99} ms, max {top} ms; commit->release p50 {release[0]} "
            f"p99 {release[1]} ms; release->insert p50 {ingest[0]} p99 {ingest[1]} ms"
        )

    async def close(self) -> None:
        await self.channel.close()
        await self.mesh.stop()
        self.backend.send_signal(signal.SIGTERM)
        await self.backend.wait()


async def generate_load(rate: int, seconds: float, address: str) -> None:
    """``--load``: submits ``rate`` feedback a second (50 batches a second) to tenant
    'lag' for ``seconds``; prints the achieved rate."""
    bench = Bench(Settings(peers={"feedback": address}))
    bench.channel = grpc.aio.insecure_channel(address)
    bench.stub = feedback_pb2_grpc.FeedbackServiceStub(bench.channel)
    per_tick, tick = max(1, rate // 50), 0.02
    started = time.perf_counter()
    sent = 0
    inflight: set[asyncio.Task[None]] = set()
    while time.perf_counter() - started < seconds:
        await asyncio.sleep(max(0.0, started + sent * tick - time.perf_counter()))
        task = asyncio.create_task(bench.submit(per_tick, "lag", batch=per_tick))
        inflight.add(task)
        task.add_done_callback(inflight.discard)
        sent += 1
    await asyncio.gather(*inflight)
    print(sent * per_tick / (time.perf_counter() - started))
    await bench.channel.close()


async def pipeline(settings: Settings, args: argparse.Namespace) -> None:
    server_url = os.environ.get(
        "FEEDBACKMESH_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    name = f"fm_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = with_database(server_url, name)
    settings = settings.model_copy(update={"database_url": SecretStr(url)})
    bench = Bench(settings)
    try:
        await migrate_database(settings)
        await bench.start_backends()
        took = await bench.prefill(args.prefill)
        print(f"prefill: {args.prefill} feedback submitted and released in {took:.1f}s")
        rate = await bench.pull_rate(args.prefill)
        print(f"PullOutboxEvents alone: {rate:,.0f} events/s")
        await bench.sustained(args.prefill)
        await bench.lag(args.rate, args.lag_seconds)
    finally:
        await bench.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def main() -> None:
    if sys.argv[1:2] == ["--load"]:
        asyncio.run(generate_load(int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefill", type=int, default=100_000)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--lag-seconds", type=float, default=20.0)
    parser.add_argument("--plan-events", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--skip-plan", action="store_true")
    parser.add_argument("--skip-pipeline", action="store_true")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ingest-bench-"))
    settings = Settings(
        data_dir=tmp,
        redis_url=os.environ.get("FEEDBACKMESH_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"),
        clickhouse_url=f"chdb://{tmp / 'chdb'}",
        clickhouse_database="bench",
        ingest_batch_size=args.batch_size,
        redis_channel=f"bench.{uuid.uuid4().hex[:6]}",
        sentiment_analyzer="vader",
        sentiment_timeout_seconds=5.0,
        log_level="WARNING",
    )
    if not args.skip_pipeline:
        asyncio.run(pipeline(settings, args))
    if not args.skip_plan:
        writer_capacity(settings, args.prefill)
        plan_way(settings, args.plan_events)


if __name__ == "__main__":
    main()
