"""Chaos under load against a real `feedbackmesh up`, shared by the CI chaos test
(test_up_chaos.py) and the chaos benchmark (bench/chaos_bench.py).

``RetryingLoad`` is clients that submit through the gateway and retry every failed request
with the same ``request_id`` until it is acknowledged (the idempotency key makes that safe);
``hit`` sends a signal to one child of `up` and times its replacement; ``settle`` waits
until ClickHouse and the rollups equal PostgreSQL and returns the counts to compare.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from e2e_helpers import Mesh, all_pids, mismatches, pg_rows, truth

from mesh_app.up.demo_data import generate_feedback
from mesh_app.up.liveness import valkey_probe
from mesh_app.up.readiness import HealthProbe, http_ok, service_name
from mesh_runtime.auth import DEFAULT_USER_SCOPES, mint_token
from mesh_runtime.settings import Settings

GIVE_UP_SECONDS = 180.0
RETRY_PAUSE_SECONDS = 0.25


def auth(tenant: str, user: str) -> dict[str, str]:
    token = mint_token(
        Settings(), tenant_id=tenant, user_id=user, scopes=DEFAULT_USER_SCOPES, ttl_seconds=7200
    )
    return {"authorization": f"Bearer {token}"}


@dataclass
class RetryingLoad:
    """``clients`` threads submitting one feedback at a time, pausing ``pause`` seconds
    between acknowledged requests; a failed attempt is retried with the same request_id."""

    gateway: str
    tenant: str = field(default_factory=lambda: f"chaos-{uuid.uuid4().hex[:8]}")
    clients: int = 4
    pause: float = 0.02
    acked: dict[str, str] = field(default_factory=dict)  # request_id -> feedback id
    errors: list[tuple[float, str]] = field(default_factory=list)  # (when, what) per attempt
    gave_up: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @contextlib.contextmanager
    def running(self) -> Iterator[RetryingLoad]:
        self._stop.clear()
        self._threads = [
            threading.Thread(target=self._client, args=(i,), daemon=True)
            for i in range(self.clients)
        ]
        for thread in self._threads:
            thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            for thread in self._threads:  # each finishes (acknowledges) its request first
                thread.join(timeout=GIVE_UP_SECONDS + 30)

    def errors_between(self, start: float, end: float) -> int:
        with self._lock:
            return sum(1 for at, _ in self.errors if start <= at <= end)

    def error_kinds(self) -> dict[str, int]:
        kinds: dict[str, int] = {}
        with self._lock:
            for _, what in self.errors:
                kinds[what] = kinds.get(what, 0) + 1
        return kinds

    def _client(self, index: int) -> None:
        rng = random.Random(f"{self.tenant}-{index}")
        headers = auth(self.tenant, f"user-{index % 3}")
        sequence = 0
        with httpx.Client(base_url=self.gateway, timeout=30.0) as http:
            while not self._stop.is_set():
                body = generate_feedback(rng)
                body["request_id"] = f"{self.tenant}-{index}-{sequence}"
                sequence += 1
                self._submit(http, body, headers)
                time.sleep(self.pause)

    def _submit(self, http: httpx.Client, body: dict[str, Any], headers: dict[str, str]) -> None:
        first = time.monotonic()
        while True:
            try:
                reply = http.post("/v1/feedback", json=body, headers=headers)
                if reply.status_code == 200:
                    with self._lock:
                        self.acked[body["request_id"]] = reply.json()["id"]
                    return
                what = f"HTTP {reply.status_code}"
            except httpx.HTTPError as exc:
                what = type(exc).__name__
            now = time.monotonic()
            with self._lock:
                self.errors.append((now, what))
            if now - first > GIVE_UP_SECONDS:
                with self._lock:
                    self.gave_up.append(body["request_id"])
                return
            time.sleep(RETRY_PAUSE_SECONDS)


def answering(mesh: Mesh, name: str) -> bool:
    """Whether the child ``name`` of `up` serves again (its own check, not Envoy's)."""
    status = mesh.status()
    if name == "postgres":
        try:
            return bool(pg_rows(mesh.database_url, "SELECT 1"))
        except Exception:
            return False
    if name == "valkey":
        return valkey_probe(int(status["redis_url"].rsplit(":", 1)[1].split("/")[0]))(1.0)
    if name == "envoy":
        return http_ok(f"{mesh.gateway}/healthz")
    entry = status["processes"][name]
    probe = HealthProbe()
    try:
        addr = f"127.0.0.1:{entry['grpc_port']}"
        return all(probe.service_serving(addr, service_name(t)) for t in entry["targets"])
    finally:
        probe.close()


def hit(mesh: Mesh, name: str, sig: signal.Signals, timeout: float = 120.0) -> float:
    """Sends ``sig`` to the child ``name``; seconds until `up` had a new one serving."""
    pid = all_pids(mesh.data_dir)[name]
    started = time.monotonic()
    os.kill(pid, sig)
    while True:
        now = time.monotonic()
        assert now - started < timeout, f"{name} not back after {timeout:g}s"
        current = all_pids(mesh.data_dir).get(name)
        if current is not None and current != pid and answering(mesh, name):
            return now - started
        time.sleep(0.1)


@dataclass(frozen=True)
class Counts:
    postgres: int
    acknowledged: int
    clickhouse: int
    rollup_diffs: list[str]
    # Acknowledged request_ids missing from PostgreSQL, rows nobody was told about.
    lost: list[str]
    unacknowledged: list[str]

    @property
    def exact(self) -> bool:
        same = self.postgres == self.acknowledged == self.clickhouse
        return same and not (self.rollup_diffs or self.lost or self.unacknowledged)


def settle(mesh: Mesh, load: RetryingLoad, timeout: float = 90.0) -> Counts:
    """Waits (up to ``timeout``) until ClickHouse and the rollups equal PostgreSQL."""
    headers = auth(load.tenant, "checker")
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=mesh.gateway, timeout=30.0) as http:
        while True:
            counts = _counts(mesh, load, http, headers)
            if counts.exact or time.monotonic() > deadline:
                return counts
            time.sleep(0.5)


def _counts(mesh: Mesh, load: RetryingLoad, http: httpx.Client, headers: dict[str, str]) -> Counts:
    rows = pg_rows(
        mesh.database_url, "SELECT request_id FROM feedback WHERE tenant_id = $1", load.tenant
    )
    stored = {row["request_id"] for row in rows}
    acked = set(load.acked)
    views: list[Any] = []
    clickhouse, diffs = -1, []
    try:
        status = http.get("/v1/ingest/status", headers=headers)
        if status.status_code == 200:
            clickhouse = int(status.json()["rows_in_clickhouse"])
        for view in ("ratings", "sentiment", "usage-trends"):
            reply = http.get(f"/v1/analytics/{view}", headers=headers)
            views.append(reply.json() if reply.status_code == 200 else None)
    except httpx.HTTPError as exc:
        diffs = [f"gateway: {type(exc).__name__}"]
    if not diffs and None in views:
        diffs = ["analytics unavailable"]
    elif not diffs:
        diffs = mismatches(truth(mesh.database_url, load.tenant), *views)
    return Counts(
        postgres=len(stored),
        acknowledged=len(acked),
        clickhouse=clickhouse,
        rollup_diffs=diffs,
        lost=sorted(acked - stored),
        unacknowledged=sorted(stored - acked),
    )
