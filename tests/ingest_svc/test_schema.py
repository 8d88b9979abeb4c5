"""ClickHouse schema: idempotent migrations, and the cluster DDL (render only)."""

from __future__ import annotations

import asyncio
import uuid

from ingest_svc.schema import bootstrap_statements, migrate_clickhouse, migrations
from mesh_runtime.resources import create_clickhouse_client
from mesh_runtime.settings import Settings


async def test_migrations_are_versioned_and_idempotent(settings: Settings) -> None:
    local = settings.model_copy(update={"clickhouse_database": f"schema_{uuid.uuid4().hex[:8]}"})
    await asyncio.to_thread(migrate_clickhouse, local)
    await asyncio.to_thread(migrate_clickhouse, local)  # a no-op the second time
    client = create_clickhouse_client(local)
    try:
        db = local.clickhouse_database
        versions = client.query(f"SELECT version FROM `{db}`.schema_migrations ORDER BY version")
        assert [r[0] for r in versions.result_rows] == [m.version for m in migrations(db)]
        tables = client.query(
            "SELECT name, engine FROM system.tables WHERE database = {db:String}",
            parameters={"db": db},
        ).result_rows
        engines: dict[str, str] = {name: engine for name, engine in tables}
        assert engines["feedback_events"] == "MergeTree"
        assert engines["feedback_hourly"] == "AggregatingMergeTree"
        assert engines["feedback_tags_hourly"] == "AggregatingMergeTree"
        assert engines["feedback_hourly_mv"] == "MaterializedView"
        # Dedup tokens only work with a window on the raw table and every view target.
        for table in ("feedback_events", "feedback_hourly", "feedback_tags_hourly"):
            ddl = client.command(f"SHOW CREATE TABLE `{db}`.{table}")
            assert "non_replicated_deduplication_window = 1000" in str(ddl), table
        users = client.query(
            "SELECT type FROM system.columns WHERE database = {db:String} "
            "AND table = 'feedback_hourly' AND name = 'users'",
            parameters={"db": db},
        ).result_rows
        assert users == [("AggregateFunction(uniqExact, String)",)]
    finally:
        client.close()


def test_cluster_ddl_uses_on_cluster_replicated_and_distributed() -> None:
    statements = bootstrap_statements("fm", "main") + [
        s for m in migrations("fm", "main") for s in m.statements
    ]
    text = "\n".join(statements)
    assert statements[0] == "CREATE DATABASE IF NOT EXISTS `fm` ON CLUSTER `main`"
    assert all(" ON CLUSTER `main`" in s for s in statements)
    assert "non_replicated_deduplication_window" not in text
    for table in ("feedback_events", "feedback_hourly", "feedback_tags_hourly"):
        assert f"CREATE TABLE IF NOT EXISTS `fm`.{table}_local ON CLUSTER `main`" in text
        assert f"ENGINE = Distributed(`main`, `fm`, {table}_local, cityHash64(tenant_id))" in text
    assert (
        "ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/fm/feedback_events_local', "
        "'{replica}') PARTITION BY toYYYYMM(created_at)" in text
    )
    assert "ReplicatedAggregatingMergeTree(" in text
    # Views read the local raw table and write the local rollups, shard by shard.
    assert "TO `fm`.feedback_hourly_local AS" in text
    assert "FROM `fm`.feedback_events_local" in text
