"""The `feedbackmesh` command line, run as a real process."""

from __future__ import annotations

import os
import subprocess
import sys

from mesh_runtime.auth import TokenVerifier
from mesh_runtime.settings import Settings


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mesh_app.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_help_explains_every_command() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("serve", "token", "migrate", "up", "healthcheck"):
        assert command in result.stdout


def test_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("feedbackmesh ")


def test_token_prints_only_a_verifiable_token() -> None:
    result = run_cli("token", "--tenant", "acme", "--user", "u9", "--scope", "feedback:read")
    assert result.returncode == 0
    token = result.stdout.strip()
    assert result.stdout == token + "\n"
    principal = TokenVerifier(Settings()).verify(token)
    assert (principal.tenant_id, principal.user_id, principal.scopes) == (
        "acme",
        "u9",
        frozenset({"feedback:read"}),
    )


def test_serving_ingest_alone_on_embedded_clickhouse_is_refused_clearly(tmp_path: object) -> None:
    result = run_cli("serve", "ingest", env={"FEEDBACKMESH_DATA_DIR": str(tmp_path)})
    assert result.returncode == 2
    assert "ingest and analytics must be served together" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_target_is_a_usage_error() -> None:
    result = run_cli("serve", "billing")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
