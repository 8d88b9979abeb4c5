"""Helpers of the end-to-end tests: ports, the mesh's status file, and the aggregates
recomputed straight from PostgreSQL (the truth the analytics API must equal)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from mesh_app.up.ports import port_in_use
from mesh_runtime.postgres import libpq_url, with_database

START_TIMEOUT_SECONDS = 180.0
STOP_TIMEOUT_SECONDS = 45.0


@dataclass
class Mesh:
    data_dir: Path
    gateway: str
    admin: str
    database_url: str
    proc: subprocess.Popen[bytes]
    # Per tenant: ids of the feedback this module submitted.
    submitted: dict[str, list[str]] = field(default_factory=dict)
    last_submit: float = 0.0

    def status(self) -> dict[str, Any]:
        return read_status(self.data_dir)

    def output(self) -> str:
        return (self.data_dir / "up.out").read_text(errors="replace")

    def process(self, target: str) -> dict[str, Any]:
        """The status entry of the process serving ``target``."""
        for name, entry in self.status()["processes"].items():
            if target in entry["targets"]:
                return {"name": name, **entry}
        raise KeyError(target)


_CHOSEN_HERE = {
    f"FEEDBACKMESH_{name}"
    for name in (
        "DATABASE_URL",
        "REDIS_URL",
        "CLICKHOUSE_URL",
        "REDIS_CHANNEL",
        "DATA_DIR",
        "GRPC_PORT",
        "METRICS_PORT",
        "GATEWAY_PORT",
        "ENVOY_ADMIN_PORT",
        "GATEWAY_HOST",
    )
}


def mesh_env(*, embedded: bool = False) -> tuple[dict[str, str], str | None, str | None]:
    """The environment `up` runs with; returns (env, admin URL, database created).
    ``embedded``: `up` starts its own PostgreSQL and Valkey whatever the harness has."""
    # The developer's FEEDBACKMESH_* knobs (analyzer, JWT secret ...) pass through, as they
    # would to a real `up`; storage, ports and addresses are this fixture's to choose.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("FEEDBACKMESH_")
        or not (
            k.startswith("FEEDBACKMESH_TEST_")
            or k in _CHOSEN_HERE
            or k.startswith("FEEDBACKMESH_PEERS")
        )
    }
    env.update(
        FEEDBACKMESH_LOG_FORMAT="text",
        # Teardown need not wait for the production drain delays.
        FEEDBACKMESH_DRAIN_DELAY_SECONDS="0.3",
        FEEDBACKMESH_DRAIN_GRACE_SECONDS="3",
    )
    admin_url = database = None
    if embedded:
        return env, admin_url, database
    configured_db = os.environ.get("FEEDBACKMESH_TEST_DATABASE_URL")
    if configured_db:
        admin_url = configured_db
        database = f"fm_e2e_{uuid.uuid4().hex[:12]}"
        env["FEEDBACKMESH_DATABASE_URL"] = create_database(configured_db, database)
    configured_redis = os.environ.get("FEEDBACKMESH_TEST_REDIS_URL")
    if configured_redis:
        env["FEEDBACKMESH_REDIS_URL"] = configured_redis
        env["FEEDBACKMESH_REDIS_CHANNEL"] = f"feedback.submitted.e2e-{uuid.uuid4().hex[:8]}"
    return env, admin_url, database


@contextlib.contextmanager
def running_up(data_dir: Path, env: dict[str, str]) -> Iterator[Mesh]:
    """`feedbackmesh up` on free ports in ``data_dir``, its output in data_dir/up.out;
    stopped with SIGTERM at the end."""
    base = find_free_base_port()
    output = data_dir / "up.out"
    command = [sys.executable, "-m", "mesh_app.cli", "up", "--data-dir", str(data_dir)]
    command += ["--base-port", str(base), "--timeout", str(START_TIMEOUT_SECONDS - 20)]
    with output.open("wb") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        status = wait_ready(proc, data_dir)
        db_url = env.get("FEEDBACKMESH_DATABASE_URL") or str(status["database_url"])
        yield Mesh(
            data_dir=data_dir,
            gateway=str(status["gateway_url"]),
            admin=str(status["envoy_admin_url"]),
            database_url=db_url,
            proc=proc,
        )
    finally:
        stop_up(proc, data_dir)


def wait_ready(proc: subprocess.Popen[bytes], data_dir: Path) -> dict[str, Any]:
    output = data_dir / "up.out"
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(
                f"`feedbackmesh up` exited with {proc.returncode}:\n{output.read_text()}"
            )
        status = read_status(data_dir)
        if status.get("ready"):
            return status
        time.sleep(0.25)
    raise AssertionError(
        f"`feedbackmesh up` not ready in {START_TIMEOUT_SECONDS}s:\n{output.read_text()}"
    )


def stop_up(proc: subprocess.Popen[bytes], data_dir: Path) -> None:
    """SIGTERM (the clean stop under test); if `up` hangs, kill it and whatever it started."""
    pids = all_pids(data_dir)
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_TIMEOUT_SECONDS)
            return
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for pid in pids.values():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def all_pids(data_dir: Path) -> dict[str, int]:
    """Every child of `up` by name (services, envoy, embedded postgres and valkey)."""
    status = read_status(data_dir)
    entries = {
        **dict(status.get("processes") or {}),
        **dict(status.get("stores") or {}),
        "envoy": status.get("envoy") or {},
    }
    return {
        name: int(e["pid"]) for name, e in entries.items() if isinstance(e, dict) and e.get("pid")
    }


def read_status(data_dir: Path) -> dict[str, Any]:
    path = data_dir / "run" / "status.json"
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return {}


def find_free_base_port(span: int = 11) -> int:
    """A base port with BASE..BASE+span-1 all free (`up --base-port` uses 11 ports), below
    the kernel's ephemeral range: a port free now but in that range may be taken by any
    outgoing connection before a restarted service binds it again."""
    rng = random.Random()
    top = min(40_000, _ephemeral_low()) - span
    for _ in range(200):
        base = rng.randrange(20_000, top)
        if not any(port_in_use("127.0.0.1", base + i) for i in range(span)):
            return base
    raise RuntimeError("no free port range found")


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


def create_database(server_url: str, name: str) -> str:
    """CREATE DATABASE on the configured server; returns its URL."""

    async def run() -> None:
        conn = await asyncpg.connect(libpq_url(server_url))
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(run())
    return with_database(server_url, name)


def drop_database(server_url: str, name: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(libpq_url(server_url))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    asyncio.run(run())


def pg_rows(database_url: str, sql: str, *args: object) -> list[asyncpg.Record]:
    async def run() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(libpq_url(database_url))
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    return asyncio.run(run())


@dataclass
class Truth:
    """What the analytics of one tenant must say, computed in PostgreSQL (UTC days)."""

    count: int
    rating_sum: int
    distribution: dict[int, int]
    per_day: dict[str, tuple[int, int]]  # date -> (count, rating_sum)
    sentiment: dict[str, int]  # positive/neutral/negative/no_comment
    score_sum: float
    scored: int
    users_per_day: dict[str, int]
    active_users: int
    agents: dict[str, int]  # agent id -> count


def truth(database_url: str, tenant: str) -> Truth:
    rows = pg_rows(
        database_url,
        """SELECT rating, sentiment, sentiment_status, sentiment_score, user_id, agent_id,
                  (created_at AT TIME ZONE 'UTC')::date AS day
           FROM feedback WHERE tenant_id = $1""",
        tenant,
    )
    distribution = dict.fromkeys(range(1, 6), 0)
    per_day: dict[str, tuple[int, int]] = {}
    users: dict[str, set[str]] = {}
    sentiment = {"positive": 0, "neutral": 0, "negative": 0, "no_comment": 0}
    agents: dict[str, int] = {}
    score_sum, scored = 0.0, 0
    for row in rows:
        day = row["day"].isoformat()
        distribution[row["rating"]] += 1
        count, total = per_day.get(day, (0, 0))
        per_day[day] = (count + 1, total + row["rating"])
        users.setdefault(day, set()).add(row["user_id"])
        if row["sentiment_status"] == "no_comment":
            sentiment["no_comment"] += 1
        elif row["sentiment"] is not None:
            sentiment[row["sentiment"]] += 1
            score_sum += row["sentiment_score"]
            scored += 1
        if row["agent_id"] is not None:
            agents[str(row["agent_id"])] = agents.get(str(row["agent_id"]), 0) + 1
    return Truth(
        count=len(rows),
        rating_sum=sum(r["rating"] for r in rows),
        distribution=distribution,
        per_day=per_day,
        sentiment=sentiment,
        score_sum=score_sum,
        scored=scored,
        users_per_day={day: len(u) for day, u in users.items()},
        active_users=len({r["user_id"] for r in rows}),
        agents=agents,
    )


def mismatches(t: Truth, ratings: Any, senti: Any, usage: Any) -> list[str]:
    """Every difference between the API's answers and PostgreSQL ([] when exact)."""
    out: list[str] = []

    def same(what: str, api: object, pg: object) -> None:
        if api != pg:
            out.append(f"{what}: api={api!r} postgres={pg!r}")

    same("ratings.total_count", ratings["total_count"], t.count)
    if t.count:
        # The mean of the same integers: one IEEE division, so bit-for-bit equal.
        same("ratings.avg_rating", ratings["avg_rating"], t.rating_sum / t.count)
    same(
        "ratings.distribution",
        {d["rating"]: d["count"] for d in ratings["distribution"]},
        t.distribution,
    )
    api_days = {p["date"]: (p["count"], p["rating_sum"]) for p in ratings["series"] if p["count"]}
    same("ratings.series", api_days, t.per_day)
    totals = senti["totals"]
    same("sentiment.totals", {k: totals[k] for k in t.sentiment}, t.sentiment)
    if t.scored:
        # A sum of doubles depends on the order of addition (ClickHouse's is not ours): equal
        # to 1e-9, the scores themselves carry 4 decimals.
        same(
            "sentiment.avg_sentiment_score",
            round(senti["avg_sentiment_score"], 9),
            round(t.score_sum / t.scored, 9),
        )
    api_usage = {p["date"]: p["active_users"] for p in usage["series"] if p["submissions"]}
    same("usage.series.active_users", api_usage, t.users_per_day)
    same(
        "usage.series.submissions",
        sum(p["submissions"] for p in usage["series"]),
        t.count,
    )
    same("usage.total_active_users", usage["total_active_users"], t.active_users)
    top = {a["id"]: a["count"] for a in usage["top_agents"]}
    same("usage.top_agents", top, {k: t.agents[k] for k in top if k in t.agents})
    if t.agents:
        same("usage.top_agents[0].count", max(top.values(), default=0), max(t.agents.values()))
    return out


def check_recharts_series(series: Sequence[Any], *, start: date, end: date) -> None:
    """Recharts data: a list of flat objects, numbers as JSON numbers, a YYYY-MM-DD date key,
    one point for every day of [start, end] in order."""
    assert isinstance(series, list) and series
    dates = []
    for point in series:
        assert isinstance(point, dict)
        for key, value in point.items():
            if key == "date":
                assert isinstance(value, str)
                dates.append(datetime.strptime(value, "%Y-%m-%d").date())
            else:
                assert isinstance(value, int | float) and not isinstance(value, bool), (key, value)
        assert "date" in point and len(point) >= 2
    days = (end - start).days + 1
    assert dates == [start + timedelta(days=i) for i in range(days)], dates


def utc_today() -> date:
    return datetime.now(UTC).date()


class EventStream(threading.Thread):
    """Reads a server-sent event stream in the background: every line as received, and
    each ``data:`` frame's JSON in ``events``."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        super().__init__(daemon=True)
        self._url, self._headers = url, headers
        self.lines: list[str] = []
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.headers: dict[str, str] = {}
        self.status = 0
        self._response: httpx.Response | None = None
        self._closed = threading.Event()

    def run(self) -> None:
        timeout = httpx.Timeout(10.0, read=120.0)
        with (
            contextlib.suppress(httpx.HTTPError),
            httpx.Client(timeout=timeout) as client,
            client.stream("GET", self._url, headers=self._headers) as response,
        ):
            self._response = response
            self.status, self.headers = response.status_code, dict(response.headers)
            for line in response.iter_lines():
                if self._closed.is_set():
                    break
                self.lines.append(line)
                if line.startswith("data: "):
                    self.events.put(json.loads(line[len("data: ") :]))

    def next_event(self, timeout: float) -> dict[str, Any]:
        return self.events.get(timeout=timeout)

    def close(self) -> None:
        self._closed.set()
        if self._response is not None:
            with contextlib.suppress(Exception):
                self._response.close()
        self.join(timeout=10)
