"""SentimentService through gRPC: single-comment latency, the cost of a maximal batch call,
and how long single calls wait while one runs.

    python bench/sentiment_service.py [--analyzer default] [--singles 300]

Serves ``feedbackmesh serve sentiment`` in its own process (one model thread, as
deployed) and measures, as the client in this process:

* single AnalyzeSentiment calls of 20-word comments, one at a time: p50/p99 wall and the
  server's CPU per call;
* one maximal BatchAnalyzeSentiment call (1,000 texts of 10,000 characters, the published
  limits): wall time and server CPU;
* single calls made one after another by another caller while the maximal call runs:
  p50/p99/max wall (each should wait for at most the model pass that is running).

Prints the CPU flags and load first; figures go to ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

import grpc
import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from feedback_support import serve_cmd, spawn, wait_serving  # noqa: E402
from sentiment_accuracy import cpu_description  # noqa: E402

from feedbackmesh.sentiment.v1 import sentiment_pb2, sentiment_pb2_grpc  # noqa: E402
from mesh_runtime.auth import SCOPE_SENTIMENT, mint_token  # noqa: E402
from mesh_runtime.net import free_port  # noqa: E402
from mesh_runtime.settings import Settings  # noqa: E402
from sentiment_svc.analyzers.datasets import load_uci  # noqa: E402
from sentiment_svc.service import MAX_BATCH_SIZE, MAX_TEXT_CHARS  # noqa: E402

SECRET = "sentiment-bench-secret-" + "x" * 32


def comments(data: Path, count: int) -> list[str]:
    texts = [t for w in ("amazon_cells", "yelp", "imdb") for t in load_uci(data, w).texts]
    return [t for t in texts if 18 <= len(t.split()) <= 22][:count]


def quantiles(ms: list[float]) -> str:
    q = statistics.quantiles(ms, n=100)
    return f"p50 {q[49]:.1f} ms, p99 {q[98]:.1f} ms, max {max(ms):.1f} ms (n={len(ms)})"


async def run(args: argparse.Namespace) -> None:
    port = free_port()
    env = {
        "FEEDBACKMESH_LOG_LEVEL": "WARNING",
        "FEEDBACKMESH_METRICS_PORT": "0",
        "FEEDBACKMESH_GRPC_PORT": str(port),
        "FEEDBACKMESH_SENTIMENT_ANALYZER": args.analyzer,
        "FEEDBACKMESH_JWT_SECRET": SECRET,
    }
    server = spawn(serve_cmd("sentiment"), env)
    rows: list[tuple[str, str]] = []
    try:
        await wait_serving(port)
        proc = psutil.Process(server.pid)
        settings = Settings(jwt_secret=SECRET)
        token = mint_token(settings, tenant_id="bench", user_id="u", scopes=[SCOPE_SENTIMENT])
        metadata = (("authorization", f"Bearer {token}"),)
        singles = comments(args.data, args.singles)
        rng_texts = singles * (MAX_TEXT_CHARS // 100)
        maximal = [" ".join(rng_texts[i : i + 100])[:MAX_TEXT_CHARS] for i in range(MAX_BATCH_SIZE)]
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = sentiment_pb2_grpc.SentimentServiceStub(channel)

            async def single(text: str) -> float:
                t0 = time.perf_counter()
                await stub.AnalyzeSentiment(
                    sentiment_pb2.AnalyzeSentimentRequest(text=text), metadata=metadata
                )
                return (time.perf_counter() - t0) * 1000

            for text in singles[:20]:
                await single(text)  # warm up
            cpu0 = proc.cpu_times()
            idle = [await single(t) for t in singles]
            cpu1 = proc.cpu_times()
            cpu_ms = (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / len(idle) * 1000
            rows.append(
                ("single 20-word comment, one at a time", f"{quantiles(idle)}; server CPU "
                 f"{cpu_ms:.2f} ms/call")
            )  # fmt: skip

            cpu0 = proc.cpu_times()
            t0 = time.perf_counter()
            batch = asyncio.ensure_future(
                stub.BatchAnalyzeSentiment(
                    sentiment_pb2.BatchAnalyzeSentimentRequest(texts=maximal),
                    metadata=metadata,
                    timeout=600,
                )
            )
            during: list[float] = []
            await asyncio.sleep(0.05)
            while not batch.done():
                during.append(await single(singles[len(during) % len(singles)]))
            await batch
            wall = time.perf_counter() - t0
            cpu1 = proc.cpu_times()
            cpu_s = cpu1.user + cpu1.system - cpu0.user - cpu0.system
            rows.append(
                (f"maximal batch ({MAX_BATCH_SIZE} x {MAX_TEXT_CHARS:,} characters)",
                 f"{wall:.2f} s wall; server CPU {cpu_s:.2f} s (singles during it included)")
            )  # fmt: skip
            if len(during) >= 2:
                rows.append(("single calls during the maximal batch", quantiles(during)))
    finally:
        server.terminate()
        server.wait(timeout=15)
    print(f"{time.strftime('%Y-%m-%d %H:%M')} UTC; load average {os.getloadavg()}")
    print(cpu_description())
    print(f"\n| SentimentService, analyzer {args.analyzer} | result |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "datasets")
    ap.add_argument("--analyzer", default="default")
    ap.add_argument("--singles", type=int, default=300)
    asyncio.run(run(ap.parse_args()))


if __name__ == "__main__":
    main()
