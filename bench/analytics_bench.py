"""AnalyticsService latency at scale vs the same answers by GROUP BY on PostgreSQL.

    python bench/analytics_bench.py                      # 10M events, 50 tenants, 180 days
    python bench/analytics_bench.py --events 1000000     # a quick run
    python bench/analytics_bench.py --replay-seconds 0   # the cold sweep only

Generates the events inside chDB (the ingest schema and its materialized views, so the
hourly rollups fill as ingestion fills them), copies the same rows into a scratch
PostgreSQL database (dropped afterwards), then
1. the cold sweep: times each RPC's service layer (validation, data version reads, ClickHouse
   queries, zero-filling; no gRPC hop; the answer cache off) over 30 and 90 days, and the
   equivalent PostgreSQL queries, on random tenants;
2. the dashboard replay (bench/analytics_replay.py): 50 dashboards refreshing their three
   views through gRPC while 10 % of the tenants receive writes; warm and cold latency, hit
   rate, and the speed-up over the same PostgreSQL GROUP BY.
Needs Redis (``--redis-url``) for the data versions. Results: bench/README.md, "Analytics".
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from pydantic import SecretStr

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import analytics_pg
import redis.asyncio as aioredis
from analytics_data import load_chdb, load_postgres
from analytics_replay import ReplayConfig, percentile, replay

from analytics_svc import export
from analytics_svc.buckets import Grain
from analytics_svc.domain import RangeParams
from analytics_svc.repository import AnalyticsRepository
from analytics_svc.service import AnalyticsService
from analytics_svc.versions import VersionReader
from analytics_svc.window import resolve_window
from ingest_svc.schema import migrate_clickhouse
from ingest_svc.versions import DataVersions, VersionPublisher
from mesh_runtime.data_versions import DataVersionKeys
from mesh_runtime.resources import create_clickhouse_client
from mesh_runtime.settings import Settings

TZ = "America/Los_Angeles"


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of other processes (the PostgreSQL backends), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


async def timed(
    call: Callable[[str], Awaitable[Any]],
    tenants: list[str],
    n: int,
    rnd: random.Random,
    pids: list[int] | None = None,
) -> tuple[list[float], float]:
    """Wall times (ms) of n calls on random tenants, and CPU ms per call: this process's
    (chDB runs in it) or, given ``pids``, those PostgreSQL backends'. CPU time hardly
    depends on what else the machine runs, so it compares the two sides fairly even when
    the wall times are inflated by load."""
    for tenant in tenants[:3]:  # warm-up: clients, caches, plans
        await call(tenant)
    samples = []
    cpu_started = _cpu_seconds(pids) if pids else time.process_time()
    for _ in range(n):
        tenant = rnd.choice(tenants)
        started = time.perf_counter()
        await call(tenant)
        samples.append((time.perf_counter() - started) * 1000)
    cpu = (_cpu_seconds(pids) if pids else time.process_time()) - cpu_started
    return samples, cpu * 1000 / n


async def backend_pids(pool: asyncpg.Pool) -> list[int]:
    connections = [await pool.acquire() for _ in range(pool.get_max_size())]
    pids = [int(await c.fetchval("SELECT pg_backend_pid()")) for c in connections]
    for connection in connections:
        await pool.release(connection)
    return pids


def scenarios(
    service: AnalyticsService, pool: asyncpg.Pool, now: datetime, days: int
) -> list[tuple[str, Callable[[str], Awaitable[Any]], Callable[[str], Awaitable[Any]]]]:
    start = now - timedelta(days=days)
    params = RangeParams(start=start, end=now, grain=Grain.DAY, time_zone=TZ)
    raw = RangeParams(start=start, end=now, grain=Grain.DAY, time_zone="Asia/Kolkata")
    usage = RangeParams(period=f"{days}d", time_zone=TZ)
    window = resolve_window(None, None, f"{days}d", Grain.DAY, TZ, now)
    # What a dashboard sends: no end, so the range ends with the current bucket (whole
    # hours at both ends: no raw-event branch).
    dashboard = RangeParams(start=now - timedelta(days=days), grain=Grain.DAY, time_zone=TZ)
    snapped = resolve_window(dashboard.start, None, "", Grain.DAY, TZ, now)
    return [
        ("GetRatingsAnalytics", lambda t: service.ratings(t, params),
         lambda t: analytics_pg.ratings(pool, t, start, now, TZ)),
        ("GetSentimentAnalytics", lambda t: service.sentiment(t, params),
         lambda t: analytics_pg.sentiment(pool, t, start, now, TZ)),
        ("GetUsageTrends", lambda t: service.usage_trends(t, usage),
         lambda t: analytics_pg.usage(pool, t, window.start, window.end, TZ)),
        ("ExportAnalytics (ratings)",
         lambda t: _csv(service, t, params),
         lambda t: analytics_pg.export(pool, t, start, now, TZ)),
        ("GetRatingsAnalytics, Asia/Kolkata (raw events)", lambda t: service.ratings(t, raw),
         lambda t: analytics_pg.ratings(pool, t, start, now, "Asia/Kolkata")),
        ("GetRatingsAnalytics, ending with today (dashboard)",
         lambda t: service.ratings(t, dashboard),
         lambda t: analytics_pg.ratings(pool, t, snapped.start, snapped.end, TZ)),
        ("GetSentimentAnalytics, ending with today (dashboard)",
         lambda t: service.sentiment(t, dashboard),
         lambda t: analytics_pg.sentiment(pool, t, snapped.start, snapped.end, TZ)),
    ]  # fmt: skip


async def _csv(service: AnalyticsService, tenant: str, params: RangeParams) -> bytes:
    return export.ratings_csv(await service.ratings(tenant, params))


async def check_same_answers(
    service: AnalyticsService, pool: asyncpg.Pool, tenant: str, now: datetime
) -> None:
    """One spot check that both sides compute the same numbers (the tests check all)."""
    start = now - timedelta(days=90)
    ratings = await service.ratings(tenant, RangeParams(start, now, Grain.DAY, TZ))
    series, _ = await analytics_pg.ratings(pool, tenant, start, now, TZ)
    got = [(p.count, p.rating_sum) for p in ratings.series if p.count]
    assert got == [(r[1], r[2]) for r in series], "ratings differ from PostgreSQL"


async def run(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="fm-analytics-bench-"))
    pg_name = f"fm_bench_{uuid.uuid4().hex[:8]}"
    settings = Settings(
        data_dir=workdir,
        clickhouse_url=SecretStr(f"chdb://{workdir / 'chdb'}"),
        clickhouse_database="bench",
        redis_url=SecretStr(args.redis_url),
        data_version_redis_prefix=f"bench-{uuid.uuid4().hex[:8]}",
        analytics_clickhouse_clients=args.clients,
        analytics_cache_max_bytes=args.cache_bytes,
        jwt_secret=SecretStr(secrets.token_urlsafe(32)),
        log_format="text",
    )
    now = datetime.now(UTC)
    span = timedelta(days=args.days)
    start_us = int((now - span).timestamp() * 1_000_000)
    admin = await asyncpg.connect(args.pg_dsn)
    await admin.execute(f'CREATE DATABASE "{pg_name}"')
    pool: asyncpg.Pool | None = None
    redis = aioredis.Redis.from_url(args.redis_url)
    try:
        migrate_clickhouse(settings)
        client = create_clickhouse_client(settings, database="bench")
        seconds = load_chdb(
            client, args.events, args.tenants, start_us, int(span / timedelta(microseconds=1))
        )
        print(f"chDB: {args.events:,} events in {seconds:.1f} s", flush=True)
        pg_dsn = args.pg_dsn.rsplit("/", 1)[0] + f"/{pg_name}"
        db = await asyncpg.connect(pg_dsn)
        seconds = await load_postgres(client, db, args.events)
        await db.close()
        client.close()
        print(f"PostgreSQL: copied and indexed in {seconds:.1f} s", flush=True)
        pool = await asyncpg.create_pool(pg_dsn, min_size=4, max_size=4)
        tenants = [f"tenant-{i}" for i in range(args.tenants)]
        pids = await backend_pids(pool)
        await cold_sweep(args, settings, redis, pool, pids, tenants, now)
        if args.replay_seconds > 0:
            await dashboard_replay(args, settings, pool, pids, tenants)
    finally:
        if pool is not None:
            await pool.close()
        await redis.aclose()
        await admin.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
        await admin.close()
        shutil.rmtree(workdir, ignore_errors=True)


def _header() -> str:
    return (
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )


async def cold_sweep(
    args: argparse.Namespace,
    settings: Settings,
    redis: aioredis.Redis,
    pool: asyncpg.Pool,
    pids: list[int],
    tenants: list[str],
    now: datetime,
) -> None:
    """Every call cold (the cache off), the data versions read from Redis as in service."""
    keys = DataVersionKeys(settings)
    writer = DataVersions(VersionPublisher(redis, keys, 3.0))
    writer.load({}, 0)
    lease = asyncio.create_task(writer.keep_published())
    repository = AnalyticsRepository(settings)
    versions = VersionReader(repository.data_version, redis, keys)
    service = AnalyticsService(repository, versions, cache_bytes=0, now=lambda: now)
    await check_same_answers(service, pool, tenants[0], now)
    rnd = random.Random(1)
    rows = []
    for days in (30, 90):
        for name, ours, theirs in scenarios(service, pool, now, days):
            ch, ch_cpu = await timed(ours, tenants, args.iterations, rnd)
            pg, pg_cpu = await timed(theirs, tenants, args.pg_iterations, rnd, pids)
            rows.append((name, days, ch, ch_cpu, pg, pg_cpu))
            print(".", end="", flush=True)
    print()
    print(
        f"\nCold sweep: {args.events:,} events, {args.tenants} tenants, {args.days} days; "
        f"{args.iterations} calls per row (PostgreSQL: {args.pg_iterations}); {_header()}; ms\n"
    )
    print(
        "| RPC | range | p50 | p99 | CPU/call | PostgreSQL p50 | PostgreSQL p99 | "
        "PostgreSQL CPU/call | speed-up p50 | speed-up CPU |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, days, ch, ch_cpu, pg, pg_cpu in rows:
        ch50, pg50 = statistics.median(ch), statistics.median(pg)
        print(
            f"| {name} | {days} d | {ch50:.1f} | {percentile(ch, 0.99):.1f} | "
            f"{ch_cpu:.1f} | {pg50:.0f} | {percentile(pg, 0.99):.0f} | {pg_cpu:.0f} | "
            f"{pg50 / ch50:.1f}x | {pg_cpu / ch_cpu:.1f}x |"
        )
    lease.cancel()
    await repository.close()


async def dashboard_replay(
    args: argparse.Namespace,
    settings: Settings,
    pool: asyncpg.Pool,
    pids: list[int],
    tenants: list[str],
) -> None:
    config = ReplayConfig(
        tenants=args.tenants,
        seconds=args.replay_seconds,
        refresh=args.refresh_seconds,
        writers=max(1, args.tenants // 10),
        write_every=args.write_every,
        first_id=args.events + 1,
    )
    result = await replay(settings, config)
    # The same answers by GROUP BY on PostgreSQL, for the dashboard's windows.
    now = datetime.now(UTC)
    day = resolve_window(None, None, "", Grain.DAY, TZ, now)
    usage = resolve_window(None, None, "30d", Grain.DAY, TZ, now)
    pg = {
        "ratings": lambda t: analytics_pg.ratings(pool, t, day.start, day.end, TZ),
        "sentiment": lambda t: analytics_pg.sentiment(pool, t, day.start, day.end, TZ),
        "usage": lambda t: analytics_pg.usage(pool, t, usage.start, usage.end, TZ),
    }
    rnd = random.Random(2)
    pg_p50 = {}
    for view, call in pg.items():
        samples, _ = await timed(call, tenants, args.pg_iterations, rnd, pids)
        pg_p50[view] = statistics.median(samples)
    pg_all = statistics.median(pg_p50.values())
    print(
        f"\nDashboard replay: {config.tenants} dashboards x 3 views every "
        f"~{config.refresh:g} s for {config.seconds:g} s, writes to {config.writers} tenants "
        f"every {config.write_every:g} s ({result['writes']} writes); {_header()}; ms\n"
    )
    print("| what | value |\n|---|---:|")
    for label, value in (
        ("calls (cold)", f"{result['calls']} ({result['cold_calls']})"),
        ("warm p50 / p99 (gRPC)", f"{result['warm_p50']:.2f} / {result['warm_p99']:.2f}"),
        ("cold p50 / p99 (gRPC)", f"{result['cold_p50']:.1f} / {result['cold_p99']:.1f}"),
        ("hit rate after each dashboard's first refresh", f"{result['hit_rate_steady']:.1%}"),
        ("hit rate, all calls (server counter)",
         f"{result['hit_rate_all']:.1%} ({result['server_hit_rate']:.1%})"),
        ("cache bytes peak / limit (evictions)",
         f"{result['cache_peak_bytes']:,.0f} / {result['cache_limit_bytes']:,} "
         f"({result['evictions']:.0f})"),
        ("server / client CPU per call", f"{result['server_cpu_per_call_ms']:.2f} / "
         f"{result['client_cpu_per_call_ms']:.2f}"),
    ):  # fmt: skip
        print(f"| {label} | {value} |")
    print("\n| view | warm p50 | cold p50 | PostgreSQL p50 | speed-up warm p50 |")
    print("|---|---:|---:|---:|---:|")
    for view, figures in result["per_view"].items():
        print(
            f"| {view} | {figures['warm_p50']:.2f} | {figures['cold_p50']:.1f} | "
            f"{pg_p50[view]:.0f} | {pg_p50[view] / figures['warm_p50']:.0f}x |"
        )
    print(f"\nPostgreSQL p50 over the views {pg_all:.0f} ms: "
          f"{pg_all / result['warm_p50']:.0f}x the warm p50")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--tenants", type=int, default=50)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--pg-iterations", type=int, default=20)
    parser.add_argument("--clients", type=int, default=4, help="ClickHouse clients in the pool")
    parser.add_argument("--pg-dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--cache-bytes", type=int, default=Settings().analytics_cache_max_bytes)
    parser.add_argument("--replay-seconds", type=float, default=180.0)
    parser.add_argument("--refresh-seconds", type=float, default=5.0)
    parser.add_argument("--write-every", type=float, default=2.0, help="seconds between writes")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
