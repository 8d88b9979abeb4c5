"""The real-service test harness.

PostgreSQL and Redis come from ``FEEDBACKMESH_TEST_DATABASE_URL`` /
``FEEDBACKMESH_TEST_REDIS_URL`` when set (CI points them at the machine's servers),
otherwise from embedded servers started here. ClickHouse is chDB in a temporary
directory. Each test session (each xdist worker) gets its own PostgreSQL database,
its own Redis channel and its own chDB directory, so sessions run in parallel.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio

from mesh_app.local import LocalMesh
from mesh_runtime.auth import DEFAULT_USER_SCOPES, mint_token
from mesh_runtime.embedded import EmbeddedPostgres, EmbeddedValkey
from mesh_runtime.postgres import libpq_url, with_database
from mesh_runtime.server import MeshServer
from mesh_runtime.settings import Settings
from mesh_runtime.targets import ServiceTarget

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DIR = REPO_ROOT.parent / "shared"


@contextlib.contextmanager
def traversable_tmp_dir(prefix: str = "feedbackmesh-test-") -> Iterator[Path]:
    """A temporary directory outside pytest's base directory. As root, embedded PostgreSQL
    runs as a system user who must traverse the path to its data, and every pytest session
    (another engineer's too) resets the base directory to 0700."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def postgres_tmp_path() -> Iterator[Path]:
    """``tmp_path`` for an embedded PostgreSQL's data (see ``traversable_tmp_dir``)."""
    with traversable_tmp_dir() as path:
        yield path


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """URL of a PostgreSQL server's maintenance database."""
    configured = os.environ.get("FEEDBACKMESH_TEST_DATABASE_URL")
    if configured:
        yield libpq_url(configured)
        return
    with traversable_tmp_dir() as path:
        server = EmbeddedPostgres(path / "pg")
        try:
            yield server.url("postgres")
        finally:
            server.stop()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def database_url(postgres_server_url: str) -> AsyncIterator[str]:
    """A fresh database for this test session, dropped at the end."""
    name = f"fm_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(postgres_server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield with_database(postgres_server_url, name)
    admin = await asyncpg.connect(postgres_server_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    configured = os.environ.get("FEEDBACKMESH_TEST_REDIS_URL")
    if configured:
        yield configured
        return
    server = EmbeddedValkey(tmp_path_factory.mktemp("valkey"))
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def clickhouse_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    # chDB opens one directory per process: every test of this session shares it and
    # isolates itself by database name (see ``settings``) or by tenant.
    return f"chdb://{tmp_path_factory.mktemp('chdb')}"


@pytest.fixture(scope="session")
def settings(
    database_url: str, redis_url: str, clickhouse_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    """Settings pointing at this session's real servers."""
    return Settings(
        data_dir=tmp_path_factory.mktemp("data"),
        database_url=database_url,
        redis_url=redis_url,
        clickhouse_url=clickhouse_url,
        clickhouse_database=f"fm_test_{uuid.uuid4().hex[:8]}",
        redis_channel=f"feedback.submitted.test-{uuid.uuid4().hex[:8]}",
        log_format="text",
        drain_grace_seconds=2.0,
        drain_delay_seconds=0.3,
        sentiment_timeout_seconds=2.0,
        ingest_poll_interval_seconds=0.5,
    )


@pytest.fixture(scope="session")
def token_for(settings: Settings) -> Callable[..., str]:
    def mint(
        tenant: str = "tenant-a",
        user: str = "user-1",
        scopes: Sequence[str] = DEFAULT_USER_SCOPES,
        ttl_seconds: int = 3600,
    ) -> str:
        return mint_token(
            settings, tenant_id=tenant, user_id=user, scopes=scopes, ttl_seconds=ttl_seconds
        )

    return mint


ServeFactory = Callable[..., Awaitable[MeshServer]]


@pytest_asyncio.fixture(loop_scope="session")
async def serve(settings: Settings) -> AsyncIterator[ServeFactory]:
    """Starts real servers on port 0: ``server = await serve(["feedback"], settings=...)``.

    Targets are built by their packages' ``create_target``; or pass ready
    ``ServiceTarget`` objects. Everything started is stopped at teardown.
    """
    mesh = LocalMesh()

    async def start(
        targets: Sequence[str | ServiceTarget],
        *,
        settings: Settings = settings,
        metrics: bool = True,
    ) -> MeshServer:
        return await mesh.start(targets, settings, metrics=metrics)

    yield start
    await mesh.stop()
