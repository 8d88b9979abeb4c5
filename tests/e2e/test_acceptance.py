"""The product plan's acceptance test (issue F): a real `feedbackmesh up`, JSON through Envoy.

Tests run in file order and build on each other's submissions (one mesh per module).
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from e2e_helpers import (
    EventStream,
    Mesh,
    check_recharts_series,
    mismatches,
    truth,
    utc_today,
)

from mesh_app.up.demo_data import generate_feedback
from mesh_runtime.auth import DEFAULT_USER_SCOPES, mint_token
from mesh_runtime.settings import Settings

pytestmark = pytest.mark.e2e

TENANTS = ("e2e-acme", "e2e-globex", "e2e-initech")
TYPES = ("EXECUTION", "AGENT", "CHAT", "GENERAL")
CONVERGE_SECONDS = 5.0


def token(tenant: str, user: str = "user-1", ttl: int = 3600) -> str:
    return mint_token(
        Settings(), tenant_id=tenant, user_id=user, scopes=DEFAULT_USER_SCOPES, ttl_seconds=ttl
    )


@pytest.fixture(scope="module")
def http(mesh: Mesh) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=mesh.gateway, timeout=30.0) as client:
        yield client


def auth(tenant: str, user: str = "user-1") -> dict[str, str]:
    return {"authorization": f"Bearer {token(tenant, user)}"}


def bodies(rng: random.Random, count: int) -> list[dict[str, Any]]:
    """Generated feedback, the first 20 forced to cover every type x rating, half commented."""
    items = [generate_feedback(rng) for _ in range(count)]
    for i, item in enumerate(items[:20]):
        kind, rating = TYPES[i % 4], i % 5 + 1
        for key in ("execution_id", "agent_id", "chat_session_id"):
            item.pop(key, None)
        item["feedback_type"] = f"FEEDBACK_TYPE_{kind}"
        item["rating"] = rating
        if kind == "EXECUTION":
            item["execution_id"] = str(10_000 + i)
        elif kind == "AGENT":
            item["agent_id"] = str(1 + i % 3)
        elif kind == "CHAT":
            item["chat_session_id"] = f"chat-{i}"
        if i % 2:
            item.pop("comment", None)
    return items


def submit(mesh: Mesh, http: httpx.Client, tenant: str, items: list[dict[str, Any]]) -> None:
    """Half one by one (POST /v1/feedback), half in one BatchSubmit."""
    half = len(items) // 2
    ids = mesh.submitted.setdefault(tenant, [])
    for i, item in enumerate(items[:half]):
        reply = http.post("/v1/feedback", json=item, headers=auth(tenant, f"user-{i % 7}"))
        assert reply.status_code == 200, reply.text
        ids.append(reply.json()["id"])
    batch = {"requests": items[half:]}
    reply = http.post("/v1/feedback:batchSubmit", json=batch, headers=auth(tenant, "user-batch"))
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["created_count"] == len(items) - half, body
    ids += [r["feedback"]["id"] for r in body["results"]]
    mesh.last_submit = time.monotonic()


def analytics(http: httpx.Client, tenant: str) -> tuple[Any, Any, Any] | str:
    """The three views, or why not (a restarting upstream answers 503 for a moment)."""
    replies = [
        http.get(f"/v1/analytics/{view}", headers=auth(tenant))
        for view in ("ratings", "sentiment", "usage-trends")
    ]
    for reply in replies:
        if reply.status_code != 200:
            return f"{reply.request.url.path}: {reply.status_code} {reply.text}"
    return replies[0].json(), replies[1].json(), replies[2].json()


def converged(mesh: Mesh, http: httpx.Client, deadline: float) -> dict[str, list[str]]:
    """Poll until every tenant's analytics equal PostgreSQL, or the deadline; the diffs."""
    while True:
        diffs: dict[str, list[str]] = {}
        for tenant in TENANTS:
            views = analytics(http, tenant)
            if isinstance(views, str):
                diffs[tenant] = [views]
                continue
            found = mismatches(truth(mesh.database_url, tenant), *views)
            if found:
                diffs[tenant] = found
        if not diffs or time.monotonic() > deadline:
            return diffs
        time.sleep(0.2)


def test_submit_feedback_as_json_through_envoy(mesh: Mesh, http: httpx.Client) -> None:
    rng = random.Random(7)
    for tenant, count in zip(TENANTS, (70, 50, 40), strict=True):
        submit(mesh, http, tenant, bodies(rng, count))
    assert sum(len(ids) for ids in mesh.submitted.values()) >= 150


def test_analytics_equal_postgres_within_5s(mesh: Mesh, http: httpx.Client) -> None:
    diffs = converged(mesh, http, mesh.last_submit + CONVERGE_SECONDS)
    assert not diffs, diffs
    assert time.monotonic() - mesh.last_submit <= CONVERGE_SECONDS + 1.0


def test_exports_contain_every_row(mesh: Mesh, http: httpx.Client) -> None:
    tenant = TENANTS[0]
    ids = set(mesh.submitted[tenant])
    reply = http.get("/v1/feedback:export", params={"format": "csv"}, headers=auth(tenant))
    assert reply.status_code == 200, reply.text
    assert re.fullmatch(
        rf'attachment; filename="feedback-{tenant}-\d{{8}}-\d{{6}}\.csv"',
        reply.headers["content-disposition"],
    ), reply.headers.get("content-disposition")
    lines = reply.text.splitlines()
    assert lines[-1] == f"# export complete: {len(ids)} rows"
    rows = list(csv.DictReader(io.StringIO("\n".join(lines[:-1]))))
    assert {r["id"] for r in rows} == ids

    reply = http.get("/v1/feedback:export", params={"format": "jsonl"}, headers=auth(tenant))
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-disposition"].endswith('.jsonl"')
    records = [json.loads(line) for line in reply.text.splitlines() if line.strip()]
    assert records[-1] == {"export_complete": True, "row_count": len(ids)}
    assert {str(r["id"]) for r in records[:-1]} == ids

    reply = http.get("/v1/analytics/ratings:export", headers=auth(tenant))
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/csv")
    assert re.fullmatch(
        rf'attachment; filename="ratings-{tenant}-\d{{8}}-\d{{6}}\.csv"',
        reply.headers["content-disposition"],
    )
    table = list(csv.DictReader(io.StringIO(reply.text)))
    assert len(table) >= 30  # one row per day of the default 30-day range
    assert sum(int(r["count"]) for r in table) == len(ids)

    refused = http.get("/v1/feedback:export", params={"format": "xml"}, headers=auth(tenant))
    assert refused.status_code == 400, refused.text
    assert "content-disposition" not in refused.headers


def _metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_metrics_show_the_submissions(mesh: Mesh) -> None:
    submitted = sum(len(ids) for ids in mesh.submitted.values())
    pages = {
        target: httpx.get(f"http://127.0.0.1:{mesh.process(target)['metrics_port']}/metrics").text
        for target in ("feedback", "sentiment", "ingest", "analytics")
    }
    assert _metric(pages["feedback"], "feedback_submissions_total") == submitted
    handled = "grpc_server_handled_total"
    assert _metric(pages["feedback"], handled, grpc_method="SubmitFeedback", grpc_code="OK") > 0
    assert _metric(pages["feedback"], handled, grpc_method="BatchSubmitFeedback") > 0
    assert _metric(pages["sentiment"], handled, grpc_code="OK") > 0
    assert _metric(pages["ingest"], "ingest_rows_total") >= submitted
    assert _metric(pages["analytics"], handled, grpc_method="GetRatingsAnalytics") > 0
    envoy = httpx.get(f"{mesh.admin}/stats/prometheus").text
    assert "envoy_cluster_upstream_rq" in envoy


def test_series_are_recharts_data(http: httpx.Client) -> None:
    today = utc_today()
    start = today - timedelta(days=13)
    params = {
        "start_time": f"{start.isoformat()}T00:00:00Z",
        "end_time": f"{(today + timedelta(days=1)).isoformat()}T00:00:00Z",
        "granularity": "GRANULARITY_DAY",
    }
    for view in ("ratings", "sentiment"):
        reply = http.get(f"/v1/analytics/{view}", params=params, headers=auth(TENANTS[1]))
        assert reply.status_code == 200, reply.text
        check_recharts_series(reply.json()["series"], start=start, end=today)
    week = {"period": "7d"}
    reply = http.get("/v1/analytics/usage-trends", params=week, headers=auth(TENANTS[1]))
    assert reply.status_code == 200, reply.text
    check_recharts_series(reply.json()["series"], start=today - timedelta(days=6), end=today)


def _json_error(reply: httpx.Response, status: int) -> dict[str, Any]:
    assert reply.status_code == status, (reply.status_code, reply.text)
    assert reply.headers["content-type"].startswith("application/json"), reply.headers
    body = reply.json()
    assert isinstance(body, dict) and body.get("message"), body
    return body


def test_missing_or_expired_token_is_401_json(http: httpx.Client) -> None:
    _json_error(http.get("/v1/feedback"), 401)
    expired = {"authorization": f"Bearer {token(TENANTS[0], ttl=-120)}"}
    _json_error(http.get("/v1/feedback", headers=expired), 401)
    forged = {"authorization": f"Bearer {token(TENANTS[0])}x"}
    _json_error(http.get("/v1/analytics/ratings", headers=forged), 401)


def test_tenant_a_never_sees_tenant_b(mesh: Mesh, http: httpx.Client) -> None:
    a, b = TENANTS[0], TENANTS[1]
    listed = http.get("/v1/feedback", params={"page_size": 500}, headers=auth(a)).json()
    assert {f["tenant_id"] for f in listed["feedback"]} == {a}
    assert {f["id"] for f in listed["feedback"]} == set(mesh.submitted[a])
    other = mesh.submitted[b][0]
    _json_error(http.get(f"/v1/feedback/{other}", headers=auth(a)), 404)
    ratings = http.get("/v1/analytics/ratings", headers=auth(a)).json()
    assert ratings["total_count"] == len(mesh.submitted[a])


def test_bad_input_is_400_json_and_unknown_path_404_json(http: httpx.Client) -> None:
    headers = auth(TENANTS[0]) | {"content-type": "application/json"}
    _json_error(http.post("/v1/feedback", content=b'{"rating": 5,', headers=headers), 400)
    bad_enum = {"request_id": "bad-enum", "feedback_type": "FEEDBACK_TYPE_BOGUS", "rating": 3}
    _json_error(http.post("/v1/feedback", json=bad_enum, headers=headers), 400)
    _json_error(http.get("/v1/feedback", params={"colour": "red"}, headers=headers), 400)
    invalid = {"request_id": "bad-rating", "feedback_type": "FEEDBACK_TYPE_GENERAL", "rating": 9}
    body = _json_error(http.post("/v1/feedback", json=invalid, headers=headers), 400)
    assert "rating" in json.dumps(body)
    _json_error(http.get("/v1/no-such-thing", headers=headers), 404)


def _caught_up(mesh: Mesh, http: httpx.Client, tenant: str, stream: EventStream) -> str:
    """Waits until the tenant's answers hold every submission and its stream has sent
    their version; that version."""
    latest, deadline = "", time.monotonic() + 60
    while True:
        while not stream.events.empty():
            latest = stream.next_event(timeout=1)["data_version"]
        ratings = http.get("/v1/analytics/ratings", headers=auth(tenant)).json()
        if ratings["total_count"] == len(mesh.submitted[tenant]) == 0 or (
            ratings["total_count"] == len(mesh.submitted[tenant])
            and ratings["data_version"] == latest
        ):
            return latest
        assert time.monotonic() < deadline, (tenant, ratings["data_version"], latest)
        time.sleep(0.2)


def test_watch_streams_the_own_tenants_versions_as_sse(mesh: Mesh, http: httpx.Client) -> None:
    """GET /v1/analytics:watch through Envoy: server-sent events, the first at once with
    the current version (a string, as in the views' answers), a new one when a submission
    of this tenant reaches ClickHouse; another tenant's stream stays at its version."""
    mine, theirs = TENANTS[2], TENANTS[1]
    url = f"{mesh.gateway}/v1/analytics:watch"
    streams = {tenant: EventStream(url, auth(tenant)) for tenant in (mine, theirs)}
    for stream in streams.values():
        stream.start()
    try:
        for stream in streams.values():
            first = stream.next_event(timeout=20)
            stream.events.put(first)
            assert stream.status == 200
            assert stream.headers["content-type"].startswith("text/event-stream"), stream.headers
            assert set(first) == {"data_version"} and isinstance(first["data_version"], str)
        settled = {tenant: _caught_up(mesh, http, tenant, s) for tenant, s in streams.items()}
        seen_by_theirs = len(streams[theirs].lines)
        submit(mesh, http, mine, bodies(random.Random(5), 2))
        moved = _caught_up(mesh, http, mine, streams[mine])
        assert int(moved) > int(settled[mine])
    finally:
        for stream in streams.values():
            stream.close()
    # Frames are `data: {json}` lines, each followed by a blank line.
    lines = streams[mine].lines
    assert lines and all(line.startswith("data: {") or line == "" for line in lines), lines
    later = streams[theirs].lines[seen_by_theirs:]
    assert {json.loads(line[6:])["data_version"] for line in later if line} <= {settled[theirs]}


def test_killing_ingest_loses_nothing(mesh: Mesh, http: httpx.Client) -> None:
    before = mesh.process("ingest")
    os.kill(before["pid"], signal.SIGKILL)
    # Submitted while ingest is down: the outbox keeps them until it is back.
    submit(mesh, http, TENANTS[0], bodies(random.Random(11), 30))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        now = mesh.process("ingest")
        if now["pid"] and now["pid"] != before["pid"]:
            break
        time.sleep(0.2)
    assert now["restarts"] == before["restarts"] + 1, now
    assert re.search(r"was killed by SIGKILL; restarting in 1s", mesh.output())
    submit(mesh, http, TENANTS[1], bodies(random.Random(12), 10))
    diffs = converged(mesh, http, time.monotonic() + 60)
    assert not diffs, diffs


def test_demo_data_loads_through_the_gateway(mesh: Mesh, http: httpx.Client) -> None:
    # 200 in batches of 100 over three tenants once left the third one empty.
    command = [sys.executable, "-m", "mesh_app.cli", "demo-data", "--count", "200"]
    command += ["--gateway", mesh.gateway, "--tenants", "3", "--batch-size", "100"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "to 3 tenants (demo, acme, globex): 200 created, 0 invalid" in result.stdout
    assert "200/200 feedback" in result.stderr  # the progress bar
    counts = {t: truth(mesh.database_url, t).count for t in ("demo", "acme", "globex")}
    assert counts == {"demo": 67, "acme": 67, "globex": 66}
    assert set(truth(mesh.database_url, "demo").distribution) == {1, 2, 3, 4, 5}


def test_sigterm_stops_everything_cleanly(mesh: Mesh) -> None:
    pids = [e["pid"] for e in mesh.status()["processes"].values()]
    mesh.proc.send_signal(signal.SIGTERM)
    assert mesh.proc.wait(timeout=45) == 0, mesh.output()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert not (mesh.data_dir / "run" / "status.json").exists()
    assert "stopped; data kept" in mesh.output()
