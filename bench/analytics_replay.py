"""The dashboard replay of bench/analytics_bench.py: dashboards of many tenants refresh
their three views through gRPC while a few tenants receive writes.

The server side runs in the bench process (chDB is single-process): AnalyticsService on a
real gRPC server with its answer cache, and the real ingest Writer inserting the writes
with data versions published on Redis. The dashboards run in a child process (their own
CPU and event loop), each refreshing ratings, sentiment and usage trends (the requests a
dashboard sends: no end time, so windows end with the current bucket) concurrently every
``refresh`` seconds, staggered. A call is *warm* when the same dashboard's previous call
of that view returned the same data version (the cache's condition; the server's hit
counter is reported next to it), *cold* otherwise.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import random
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import redis.asyncio as aioredis
from prometheus_client import REGISTRY

from feedbackmesh.analytics.v1 import analytics_pb2 as pb
from feedbackmesh.analytics.v1 import analytics_pb2_grpc
from feedbackmesh.feedback.v1 import feedback_pb2
from ingest_svc.repository import ClickHouseRepository
from ingest_svc.versions import DataVersions, VersionPublisher
from ingest_svc.writer import IngestStats, Writer
from mesh_app.local import LocalMesh
from mesh_runtime.auth import DEFAULT_USER_SCOPES, bearer_metadata, mint_token
from mesh_runtime.data_versions import DataVersionKeys
from mesh_runtime.settings import Settings

TZ = "America/Los_Angeles"
VIEWS = ("ratings", "sentiment", "usage")


@dataclass(frozen=True)
class ReplayConfig:
    tenants: int
    seconds: float
    refresh: float  # seconds between a dashboard's refreshes
    writers: int  # tenants receiving writes
    write_every: float  # seconds between writes (each to one random writer tenant)
    first_id: int  # feedback ids above the loaded ones


def _requests() -> dict[str, Any]:
    day = pb.GRANULARITY_DAY
    return {
        "ratings": pb.GetRatingsAnalyticsRequest(granularity=day, time_zone=TZ),
        "sentiment": pb.GetSentimentAnalyticsRequest(granularity=day, time_zone=TZ),
        "usage": pb.GetUsageTrendsRequest(period="30d", time_zone=TZ),
    }


async def _dashboards(port: int, tokens: dict[str, str], config: ReplayConfig) -> list[Any]:
    """(view, warm, ms, first refresh) per call of every dashboard."""
    samples: list[tuple[str, bool, float, bool]] = []
    requests = _requests()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = analytics_pb2_grpc.AnalyticsServiceStub(channel)
        methods: dict[str, Callable[..., Awaitable[Any]]] = {
            "ratings": stub.GetRatingsAnalytics,
            "sentiment": stub.GetSentimentAnalytics,
            "usage": stub.GetUsageTrends,
        }
        stop_at = time.monotonic() + config.seconds

        async def view(tenant: str, name: str, seen: dict[str, int], first: bool) -> None:
            started = time.perf_counter()
            reply = await methods[name](requests[name], metadata=bearer_metadata(tokens[tenant]))
            took = (time.perf_counter() - started) * 1000
            samples.append((name, seen.get(name) == reply.data_version, took, first))
            seen[name] = reply.data_version

        async def dashboard(tenant: str, rnd: random.Random) -> None:
            seen: dict[str, int] = {}
            await asyncio.sleep(rnd.uniform(0, config.refresh))
            first = True
            while time.monotonic() < stop_at:
                await asyncio.gather(*(view(tenant, name, seen, first) for name in VIEWS))
                first = False
                await asyncio.sleep(config.refresh * rnd.uniform(0.8, 1.2))

        await asyncio.gather(
            *(dashboard(t, random.Random(i)) for i, t in enumerate(sorted(tokens)))
        )
    return samples


def _client(port: int, tokens: dict[str, str], config: ReplayConfig, out: Any) -> None:
    started = time.process_time()
    samples = asyncio.run(_dashboards(port, tokens, config))
    out.send((samples, time.process_time() - started))


def _events(rnd: random.Random, tenant: str, first_id: int, count: int) -> list[Any]:
    now = datetime.now(UTC)
    events = []
    for i in range(count):
        created = now - timedelta(seconds=rnd.uniform(0, 3 * 86400))
        event = feedback_pb2.FeedbackEvent(
            feedback_id=first_id + i, sequence=0, tenant_id=tenant, user_id=f"user-{i % 50}",
            feedback_type=feedback_pb2.FEEDBACK_TYPE_AGENT, agent_id=1 + i % 300,
            rating=1 + rnd.randrange(5), tags=["speed"],
        )  # fmt: skip
        event.created_at.FromDatetime(created)
        event.released_at.FromDatetime(now)
        events.append(event)
    return events


def _counter(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def replay(settings: Settings, config: ReplayConfig) -> dict[str, Any]:
    """Runs the replay; the figures of bench/README.md's replay table."""
    settings = settings.model_copy(
        update={"data_version_redis_prefix": f"bench-replay-{uuid.uuid4().hex[:8]}"}
    )
    assert settings.redis_url is not None
    redis = aioredis.Redis.from_url(settings.redis_url.get_secret_value())
    versions = DataVersions(VersionPublisher(redis, DataVersionKeys(settings), 3.0))
    writer = Writer(ClickHouseRepository(settings), IngestStats(), versions)
    await writer.prepare()
    heartbeat = asyncio.create_task(versions.keep_published())
    mesh = LocalMesh()
    server = await mesh.start(["analytics"], settings)
    tenants = [f"tenant-{i}" for i in range(config.tenants)]
    tokens = {
        t: mint_token(settings, tenant_id=t, user_id="dash", scopes=DEFAULT_USER_SCOPES)
        for t in tenants
    }
    written = tenants[: config.writers]
    hits_before = sum(_counter("analytics_cache_requests_total", view=v, result="hit")
                      for v in VIEWS)  # fmt: skip
    calls_before = sum(
        _counter("analytics_cache_requests_total", view=v, result=r)
        for v in VIEWS
        for r in ("hit", "miss", "bypass")
    )
    receive, send = multiprocessing.get_context("spawn").Pipe(duplex=False)
    child = multiprocessing.get_context("spawn").Process(
        target=_client, args=(server.port, tokens, config, send)
    )
    cpu_started = time.process_time()
    child.start()
    rnd, next_id, writes, peak_bytes = random.Random(3), config.first_id, 0, 0.0
    stop_at = time.monotonic() + config.seconds + config.refresh
    while time.monotonic() < stop_at:
        await asyncio.sleep(config.write_every)
        count = rnd.randint(1, 5)
        await writer.write(_events(rnd, rnd.choice(written), next_id, count), "direct")
        next_id, writes = next_id + count, writes + 1
        peak_bytes = max(peak_bytes, _counter("analytics_cache_bytes"))
    if not await asyncio.to_thread(receive.poll, config.seconds + 600):
        raise RuntimeError(f"the dashboard process did not report (exit code {child.exitcode})")
    samples, client_cpu = receive.recv()
    server_cpu = time.process_time() - cpu_started
    await asyncio.to_thread(child.join)
    heartbeat.cancel()
    await mesh.stop()
    await writer.close()
    await redis.aclose()
    steady = [s for s in samples if not s[3]]
    warm = [ms for _, is_warm, ms, _ in steady if is_warm]
    cold = [ms for _, is_warm, ms, _ in samples if not is_warm]
    hits = sum(_counter("analytics_cache_requests_total", view=v, result="hit")
               for v in VIEWS) - hits_before  # fmt: skip
    calls = (
        sum(
            _counter("analytics_cache_requests_total", view=v, result=r)
            for v in VIEWS
            for r in ("hit", "miss", "bypass")
        )
        - calls_before
    )
    return {
        "calls": len(samples),
        "writes": writes,
        "warm_p50": statistics.median(warm),
        "warm_p99": percentile(warm, 0.99),
        "cold_p50": statistics.median(cold),
        "cold_p99": percentile(cold, 0.99),
        "cold_calls": len(cold),
        "hit_rate_steady": len(warm) / len(steady),
        "hit_rate_all": sum(1 for s in samples if s[1]) / len(samples),
        "server_hit_rate": hits / calls if calls else 0.0,
        "cache_peak_bytes": peak_bytes,
        "cache_limit_bytes": settings.analytics_cache_max_bytes,
        "evictions": _counter("analytics_cache_evictions_total"),
        "server_cpu_per_call_ms": server_cpu * 1000 / len(samples),
        "client_cpu_per_call_ms": client_cpu * 1000 / len(samples),
        "per_view": {
            view: {
                "warm_p50": statistics.median([s[2] for s in steady if s[0] == view and s[1]]),
                "cold_p50": statistics.median([s[2] for s in samples if s[0] == view and not s[1]]),
            }
            for view in VIEWS
        },
    }
