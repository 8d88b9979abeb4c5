"""The client's tests run against a real mesh started in this process (one per module):
SentimentService (VADER), FeedbackService, IngestService + AnalyticsService, on
PostgreSQL, Redis and chDB. Helpers: client_helpers.py."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio

# --import-mode=importlib puts no test directory on sys.path; the helpers sit next to this file.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from client_helpers import Flavour, Mesh

from feedback_svc.migrations import migrate_database
from mesh_app.local import LocalMesh
from mesh_runtime.settings import Settings


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def mesh(settings: Settings, token_for: Callable[..., str]) -> AsyncIterator[Mesh]:
    await migrate_database(settings)
    servers = LocalMesh()
    dsn = settings.database_url.get_secret_value().replace("+asyncpg", "")  # type: ignore[union-attr]
    db = await asyncpg.connect(dsn)
    try:
        scored = settings.model_copy(update={"sentiment_analyzer": "vader"})
        sentiment = await servers.start(["sentiment"], scored)
        local = settings.with_peers(sentiment=f"127.0.0.1:{sentiment.port}")
        feedback = await servers.start(["feedback"], local)
        ingest = local.with_peers(feedback=f"127.0.0.1:{feedback.port}")
        analytics = await servers.start(["ingest", "analytics"], ingest)
        yield Mesh(
            targets={
                "feedback": f"127.0.0.1:{feedback.port}",
                "sentiment": f"127.0.0.1:{sentiment.port}",
                "analytics": f"127.0.0.1:{analytics.port}",
                "ingest": f"127.0.0.1:{analytics.port}",
            },
            token_for=token_for,
            db=db,
            settings=local,
        )
    finally:
        await servers.stop()
        await db.close()


@pytest.fixture(params=["sync", "async"])
def flavour(request: pytest.FixtureRequest) -> Flavour:
    """Which client a test drives: ``FeedbackMeshClient`` or ``AsyncFeedbackMeshClient``."""
    return Flavour(request.param)
