"""AnalyticsService latency at scale vs the same answers by GROUP BY on PostgreSQL.

    python bench/analytics_bench.py                      # 10M events, 50 tenants, 180 days
    python bench/analytics_bench.py --events 1000000     # a quick run

Generates the events inside chDB (the ingest schema and its materialized views, so the
hourly rollups fill as ingestion fills them), copies the same rows into a scratch
PostgreSQL database (dropped afterwards), then times each RPC's service layer (validation,
ClickHouse queries, zero-filling; no gRPC hop) over 30 and 90 days, and the equivalent
PostgreSQL queries, on random tenants. Results: bench/README.md, "Analytics (issue E)".
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
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
from analytics_data import load_chdb, load_postgres

from analytics_svc.buckets import Grain
from analytics_svc.export import export_view
from analytics_svc.repository import AnalyticsRepository
from analytics_svc.service import AnalyticsService, RangeParams, UsageParams
from analytics_svc.window import usage_window
from ingest_svc.schema import migrate_clickhouse
from mesh_runtime.resources import create_clickhouse_client
from mesh_runtime.settings import Settings

TZ = "America/Los_Angeles"


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


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
    usage = UsageParams(period=f"{days}d", time_zone=TZ)
    window = usage_window(f"{days}d", TZ, None, now)
    return [
        ("GetRatingsAnalytics", lambda t: service.ratings(t, params),
         lambda t: analytics_pg.ratings(pool, t, start, now, TZ)),
        ("GetSentimentAnalytics", lambda t: service.sentiment(t, params),
         lambda t: analytics_pg.sentiment(pool, t, start, now, TZ)),
        ("GetUsageTrends", lambda t: service.usage_trends(t, usage),
         lambda t: analytics_pg.usage(pool, t, window.start, window.end, TZ)),
        ("ExportAnalytics (ratings)",
         lambda t: export_view(service, t, "ratings", params, usage),
         lambda t: analytics_pg.export(pool, t, start, now, TZ)),
        ("GetRatingsAnalytics, Asia/Kolkata (raw events)", lambda t: service.ratings(t, raw),
         lambda t: analytics_pg.ratings(pool, t, start, now, "Asia/Kolkata")),
    ]  # fmt: skip


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
        analytics_clickhouse_clients=args.clients,
    )
    now = datetime.now(UTC)
    span = timedelta(days=args.days)
    start_us = int((now - span).timestamp() * 1_000_000)
    admin = await asyncpg.connect(args.pg_dsn)
    await admin.execute(f'CREATE DATABASE "{pg_name}"')
    pool: asyncpg.Pool | None = None
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
        repository = AnalyticsRepository(settings)
        service = AnalyticsService(repository, now=lambda: now)
        tenants = [f"tenant-{i}" for i in range(args.tenants)]
        await check_same_answers(service, pool, tenants[0], now)
        rnd = random.Random(1)
        pids = await backend_pids(pool)
        rows = []
        for days in (30, 90):
            for name, ours, theirs in scenarios(service, pool, now, days):
                ch, ch_cpu = await timed(ours, tenants, args.iterations, rnd)
                pg, pg_cpu = await timed(theirs, tenants, args.pg_iterations, rnd, pids)
                rows.append((name, days, ch, ch_cpu, pg, pg_cpu))
                print(".", end="", flush=True)
        print()
        print(
            f"\n{args.events:,} events, {args.tenants} tenants, {args.days} days; "
            f"{args.iterations} calls per row (PostgreSQL: {args.pg_iterations}); "
            f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; ms\n"
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
        await repository.close()
    finally:
        if pool is not None:
            await pool.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
        await admin.close()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--tenants", type=int, default=50)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--pg-iterations", type=int, default=20)
    parser.add_argument("--clients", type=int, default=4, help="ClickHouse clients in the pool")
    parser.add_argument("--pg-dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
