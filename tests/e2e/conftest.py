"""One real ``feedbackmesh up`` per test module (a subprocess, as a user runs it), on free
ports and a temporary data directory. PostgreSQL and Redis are the machine's servers when
FEEDBACKMESH_TEST_DATABASE_URL / _REDIS_URL are set (a fresh database, a unique channel),
otherwise ``up`` starts its embedded ones; ClickHouse is always embedded chDB."""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# --import-mode=importlib puts no test directory on sys.path; the helpers sit next to this file.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from e2e_helpers import Mesh, drop_database, mesh_env, running_up


@pytest.fixture(scope="module")
def mesh(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Mesh]:
    env, admin_url, database = mesh_env()
    # A test module's MESH_ENV (e.g. JSON logs) goes on top of the test environment.
    env.update(getattr(request.module, "MESH_ENV", {}))
    try:
        with running_up(tmp_path_factory.mktemp("mesh"), env) as started:
            yield started
    finally:
        if admin_url and database:
            drop_database(admin_url, database)


@pytest.fixture(scope="module")
def start_up(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[dict[str, str]], Mesh]]:
    """``start_up(env)``: another `up` with the environment a test module chooses, in a
    fresh data directory; stopped at the end of the module.

    Not under pytest's base directory: as root, `up` runs its embedded PostgreSQL as a
    system user who must traverse the path, and every pytest session resets that
    directory to 0700."""
    with contextlib.ExitStack() as stack:

        def start(env: dict[str, str]) -> Mesh:
            data_dir = Path(tempfile.mkdtemp(prefix="feedbackmesh-e2e-"))
            stack.callback(shutil.rmtree, data_dir, ignore_errors=True)
            return stack.enter_context(running_up(data_dir, env))

        yield start
