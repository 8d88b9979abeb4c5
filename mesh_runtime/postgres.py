"""PostgreSQL: the one URL helper and the one connection-pool factory of the mesh.

Settings may name a database as ``postgresql://``, ``postgres://`` or SQLAlchemy's
``postgresql+asyncpg://``; asyncpg takes the libpq form and Alembic the SQLAlchemy one.
Services query through an asyncpg pool (``Resources.postgres_pool()``); SQLAlchemy is
used by the Alembic migrations only.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import asyncpg

_SCHEMES = ("postgresql+asyncpg://", "postgresql://", "postgres://")


def _rest(url: str) -> str:
    for scheme in _SCHEMES:
        if url.startswith(scheme):
            return url[len(scheme) :]
    raise ValueError("not a PostgreSQL URL (expected postgresql://...)")


def libpq_url(url: str) -> str:
    """``postgresql://...``: what asyncpg and psql take."""
    return "postgresql://" + _rest(url)


def sqlalchemy_url(url: str) -> str:
    """``postgresql+asyncpg://...``: what SQLAlchemy (Alembic) takes."""
    return "postgresql+asyncpg://" + _rest(url)


def with_database(url: str, database: str) -> str:
    """The same server and options, another database."""
    head, sep, query = libpq_url(url).partition("?")
    base = head.rsplit("/", 1)[0] if head.count("/") > 2 else head
    return f"{base}/{database}{sep}{query}"


async def _init_connection(connection: asyncpg.Connection) -> None:
    for name in ("json", "jsonb"):
        await connection.set_type_codec(
            name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


async def _keep_session(connection: asyncpg.Connection) -> None:
    """Replaces asyncpg's reset on release (``RESET ALL; UNLISTEN *; ...``): that is one more
    round trip per query, and the mesh leaves no session state behind (locks are
    transaction-scoped, cursors live in transactions)."""


async def create_pool(url: str, size: int) -> asyncpg.Pool:
    """An asyncpg pool with JSON codecs for json/jsonb columns."""
    import asyncpg

    pool = await asyncpg.create_pool(
        libpq_url(url),
        min_size=min(2, size),
        max_size=size,
        init=_init_connection,
        reset=_keep_session,
        statement_cache_size=256,
    )
    if pool is None:  # asyncpg's typing allows it; a created pool is never None
        raise RuntimeError("asyncpg.create_pool returned no pool")
    return pool
