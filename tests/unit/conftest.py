"""The fast tier (``scripts/test --unit``): pure tests of pure modules, in seconds.

Nothing here starts a server: the session fixtures that would (PostgreSQL, Redis,
ClickHouse, and so ``settings`` and ``serve``) are refused. A test that needs one
belongs beside its package's other tests in ``tests/<package>/``.
"""

from __future__ import annotations

import pytest


def _no_server(request: pytest.FixtureRequest) -> None:
    pytest.fail(
        f"{request.node.nodeid} asks for the {request.fixturename!r} fixture: tests/unit "
        "runs without servers; put this test in tests/<package>/",
        pytrace=False,
    )


postgres_server_url = pytest.fixture(scope="session", name="postgres_server_url")(_no_server)
redis_url = pytest.fixture(scope="session", name="redis_url")(_no_server)
clickhouse_url = pytest.fixture(scope="session", name="clickhouse_url")(_no_server)
