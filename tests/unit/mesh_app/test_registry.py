"""The service registry: one entry per service, and what derives from it."""

from __future__ import annotations

import importlib.util

from mesh_app import registry
from mesh_runtime.settings import Settings


def test_names_and_ports_are_unique() -> None:
    names = [spec.name for spec in registry.SERVICES]
    ports = [p for spec in registry.SERVICES for p in (spec.grpc_port, spec.metrics_port)]
    assert len(set(names)) == len(names)
    assert len(set(ports)) == len(ports)


def test_every_entry_names_modules_that_exist() -> None:
    for spec in registry.SERVICES:
        assert importlib.util.find_spec(spec.target_module) is not None, spec.name
        if spec.migration is not None:
            module, _, function = spec.migration.partition(":")
            assert function and importlib.util.find_spec(module) is not None, spec.name


def test_configured_peers_win_over_the_defaults() -> None:
    settings = registry.with_default_peers(Settings().with_peers(sentiment="elsewhere:1"))
    assert settings.peer("sentiment") == "elsewhere:1"
    assert set(settings.peers) == set(registry.SERVICE_NAMES)
    feedback = registry.spec("feedback")
    assert settings.peer("feedback") == f"127.0.0.1:{feedback.grpc_port}"


def test_clickhouse_users_share_a_process_only_with_embedded_clickhouse() -> None:
    names = registry.SERVICE_NAMES
    users = tuple(s.name for s in registry.SERVICES if s.uses_clickhouse)
    shared = registry.process_groups(names, embedded_clickhouse=True)
    assert users in shared
    assert sorted(n for group in shared for n in group) == sorted(names)
    separate = registry.process_groups(names, embedded_clickhouse=False)
    assert separate == [(name,) for name in names]


def test_splitting_the_clickhouse_users_is_explained() -> None:
    users = [s.name for s in registry.SERVICES if s.uses_clickhouse]
    problem = registry.colocation_problem(users[:1], embedded_clickhouse=True)
    assert problem is not None and "FEEDBACKMESH_CLICKHOUSE_URL" in problem
    assert registry.colocation_problem(users, embedded_clickhouse=True) is None
    assert registry.colocation_problem(users[:1], embedded_clickhouse=False) is None
