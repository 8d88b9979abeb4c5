"""Fixtures of the ingest tests (the harness itself is in ingest_harness.py)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_asyncio

from feedback_svc.migrations import migrate_database
from mesh_runtime.settings import Settings

# The helpers sit next to this file (also imported by the SIGKILL test's subprocess).
sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest_harness import Mesh, MeshFactory

_migrated: set[str] = set()


@pytest_asyncio.fixture(loop_scope="session")
async def mesh_factory(
    settings: Settings, serve: Any, token_for: Any
) -> AsyncIterator[MeshFactory]:
    """``await mesh_factory(**settings_overrides)``: backends up, ingest not started."""
    url = settings.database_url.get_secret_value()  # type: ignore[union-attr]
    if url not in _migrated:
        await migrate_database(settings)
        _migrated.add(url)
    made: list[Mesh] = []

    async def make(**overrides: Any) -> Mesh:
        harness = Mesh(settings, serve, token_for)
        await harness.start_backends(**overrides)
        made.append(harness)
        return harness

    yield make
    for harness in made:
        await harness.close()


@pytest_asyncio.fixture(loop_scope="session")
async def mesh(mesh_factory: MeshFactory) -> Mesh:
    return await mesh_factory()
