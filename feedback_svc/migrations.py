"""Alembic migrations of the feedback database, run programmatically (``feedbackmesh migrate``).

The Alembic environment ships inside the package (``feedback_svc/alembic``) so an installed
wheel can migrate without an ``alembic.ini`` on disk.
"""

from __future__ import annotations

import logging
from pathlib import Path

import asyncpg
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from mesh_runtime.postgres import libpq_url, sqlalchemy_url
from mesh_runtime.resources import database_url
from mesh_runtime.settings import Settings

logger = logging.getLogger(__name__)

SCRIPT_LOCATION = Path(__file__).resolve().parent / "alembic"
VERSION_TABLE = "feedback_alembic_version"
# Serializes concurrent `migrate` runs (several replicas starting at once).
_MIGRATION_LOCK_KEY = 0x46424D4947  # "FBMIG"


def alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    config.attributes["connection"] = connection
    config.attributes["version_table"] = VERSION_TABLE
    return config


def _upgrade(connection: Connection) -> None:
    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
    command.upgrade(alembic_config(connection), "head")


async def migrate_database(settings: Settings) -> None:
    """Brings the feedback schema to the latest revision; a no-op when it is current."""
    engine = create_async_engine(sqlalchemy_url(database_url(settings)), poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade)
    finally:
        await engine.dispose()
    logger.info("feedback database migrated")


def head_revision() -> str:
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


async def schema_is_current(settings: Settings) -> bool:
    """Whether the feedback database is at this release's head revision (the rollout gate:
    ``feedbackmesh wait-for-schema``)."""
    connection = await asyncpg.connect(libpq_url(database_url(settings)), timeout=10)
    try:
        # A constant table name, no input.
        version = await connection.fetchval(f"SELECT version_num FROM {VERSION_TABLE}")  # noqa: S608
    except asyncpg.UndefinedTableError:
        return False
    finally:
        await connection.close()
    return bool(version == head_revision())
