"""`feedbackmesh wait-for-schema` (the init containers' rollout gate) against real stores:
not current before the migration, current after it."""

from __future__ import annotations

import argparse
import asyncio
import uuid
from pathlib import Path

import asyncpg

from feedback_svc.migrations import migrate_database
from ingest_svc.schema import migrate_clickhouse
from mesh_app import cli
from mesh_runtime.postgres import libpq_url, with_database
from mesh_runtime.settings import Settings

ONE_LOOK = argparse.Namespace(timeout=0.0, interval=0.1)


async def test_the_gate_opens_only_after_the_migration(
    postgres_server_url: str, tmp_path: Path
) -> None:
    name = f"fm_gate_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(libpq_url(postgres_server_url))
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        settings = Settings(
            database_url=with_database(postgres_server_url, name),
            clickhouse_url=f"chdb://{tmp_path / 'ch'}",
        )
        targets = ["feedback", "ingest", "analytics"]
        assert not await cli._wait_for_schema(settings, targets, ONE_LOOK)
        await migrate_database(settings)
        assert await cli._wait_for_schema(settings, ["feedback", "sentiment"], ONE_LOOK)
        assert not await cli._wait_for_schema(settings, ["analytics"], ONE_LOOK)
        await asyncio.to_thread(migrate_clickhouse, settings)
        assert await cli._wait_for_schema(settings, targets, ONE_LOOK)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
