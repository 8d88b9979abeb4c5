"""Done-when: the worker SIGKILLed mid-batch (twice) and restarted, submissions running
throughout; afterwards ClickHouse equals PostgreSQL exactly.

chDB opens a directory in one process only, so the worker runs in a subprocess with its
own directory, read back by a ``dump`` subprocess once the server is gone.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path

import grpc
from ingest_harness import Mesh, MeshFactory
from ingest_snapshots import assert_exact, pg_snapshot

from feedbackmesh.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from mesh_runtime.net import free_port

SCRIPT = Path(__file__).resolve().parent / "ingest_process.py"
REPO = Path(__file__).resolve().parents[2]


def child_env(mesh: Mesh, chdb_dir: Path, port: int) -> dict[str, str]:
    s = mesh.settings
    env = dict(os.environ)
    env.update(
        FEEDBACKMESH_DATABASE_URL=s.database_url.get_secret_value(),  # type: ignore[union-attr]
        FEEDBACKMESH_REDIS_URL=s.redis_url.get_secret_value(),  # type: ignore[union-attr]
        FEEDBACKMESH_REDIS_CHANNEL=s.redis_channel,
        FEEDBACKMESH_CLICKHOUSE_URL=f"chdb://{chdb_dir}",
        FEEDBACKMESH_CLICKHOUSE_DATABASE=s.clickhouse_database,
        FEEDBACKMESH_PEERS__FEEDBACK=s.peer("feedback"),
        FEEDBACKMESH_JWT_SECRET=s.jwt_secret.get_secret_value(),
        FEEDBACKMESH_GRPC_HOST="127.0.0.1",
        FEEDBACKMESH_GRPC_PORT=str(port),
        # Small batches: a kill lands between and inside many inserts.
        FEEDBACKMESH_INGEST_BATCH_SIZE="150",
        FEEDBACKMESH_INGEST_POLL_INTERVAL_SECONDS="0.5",
        FEEDBACKMESH_LOG_LEVEL="WARNING",
        PYTHONPATH=f"{REPO}{os.pathsep}{SCRIPT.parent}",
    )
    return env


async def start_child(env: dict[str, str]) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(SCRIPT), "serve", env=env, stdout=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), 60)
    assert line.startswith(b"READY"), line
    return process


async def rows_in_clickhouse(mesh: Mesh, port: int) -> ingest_pb2.GetIngestStatusResponse:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = ingest_pb2_grpc.IngestServiceStub(channel)
        status: ingest_pb2.GetIngestStatusResponse = await stub.GetIngestStatus(
            ingest_pb2.GetIngestStatusRequest(), metadata=mesh.metadata()
        )
    return status


async def test_sigkill_mid_batch(mesh_factory: MeshFactory, tmp_path: Path) -> None:
    mesh = await mesh_factory()
    port = free_port()
    env = child_env(mesh, tmp_path / "chdb", port)
    await mesh.submit(1200)  # a backlog, so the first start runs many batches
    async with mesh.submitting(per_second=150) as live:
        for kill in range(2):
            child = await start_child(env)
            seen = (await rows_in_clickhouse(mesh, port)).rows_in_clickhouse
            deadline = time.monotonic() + 30
            # Kill as soon as ingestion has visibly progressed: more batches are in flight.
            while (await rows_in_clickhouse(mesh, port)).rows_in_clickhouse <= seen:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.02)
            child.send_signal(signal.SIGKILL)
            assert await child.wait() == -signal.SIGKILL, kill
        child = await start_child(env)
        await asyncio.sleep(1.0)
    assert len(live) > 50
    deadline = time.monotonic() + 30
    while (status := await rows_in_clickhouse(mesh, port)).backlog > 0:
        assert time.monotonic() < deadline, status
        await asyncio.sleep(0.2)
    child.send_signal(signal.SIGTERM)
    assert await child.wait() == 0

    dump = await asyncio.create_subprocess_exec(
        sys.executable, str(SCRIPT), "dump", mesh.settings.clickhouse_database, *mesh.tenants,
        env=env, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await dump.communicate()
    assert dump.returncode == 0
    clickhouse = json.loads(out)
    postgres = json.loads(json.dumps(await pg_snapshot(
        mesh.settings.database_url.get_secret_value(), mesh.tenants  # type: ignore[union-attr]
    )))  # fmt: skip
    assert_exact(clickhouse, postgres)
