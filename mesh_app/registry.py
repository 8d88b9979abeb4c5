"""The service registry: every service of the mesh, spelled once (Loki's module list).

Settings defaults for peer addresses, ``feedbackmesh serve``, ``feedbackmesh migrate``,
``feedbackmesh up``'s port plan and process layout, and the gateway's upstreams all
derive from this table.
Adding a service means one entry here plus its own package (with ``target.py``).
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from gateway.clusters import Upstream

if TYPE_CHECKING:
    from mesh_runtime.resources import Resources
    from mesh_runtime.settings import Settings
    from mesh_runtime.targets import ServiceTarget


class TargetFactory(Protocol):
    async def __call__(self, settings: Settings, resources: Resources) -> ServiceTarget: ...


@dataclass(frozen=True)
class ServiceSpec:
    # Target name: `feedbackmesh serve <name>`, the key of Settings.peers.
    name: str
    # Module with `async def create_target(settings, resources) -> ServiceTarget`; imported
    # only when the target is served, so `feedbackmesh token` stays cheap.
    target_module: str
    # Fully-qualified gRPC service: health checks, gateway routing.
    proto_service: str
    grpc_port: int
    metrics_port: int
    # Uses ClickHouse: with embedded chDB, which opens its directory in one process only,
    # all such targets must share a process.
    uses_clickhouse: bool = False
    # `module:function` that brings this service's stores to the latest schema
    # (`feedbackmesh migrate`); `async def f(settings)`, or a blocking `def f(settings)`.
    migration: str | None = None
    # `module:function` telling whether the schema this service needs is this release's
    # (`feedbackmesh wait-for-schema`, the rollout gate); returns a bool, async or blocking.
    schema_check: str | None = None

    def load_factory(self) -> TargetFactory:
        module = importlib.import_module(self.target_module)
        factory: TargetFactory = module.create_target
        return factory

    def load_migration(self) -> Callable[[Settings], Awaitable[None]] | None:
        return _load_async(self.migration)

    def load_schema_check(self) -> Callable[[Settings], Awaitable[bool]] | None:
        return _load_async(self.schema_check)


def _load_async(path: str | None) -> Callable[[Settings], Awaitable[Any]] | None:
    """``module:function`` as an async callable (a blocking one runs in a thread)."""
    if path is None:
        return None
    module_name, _, function = path.partition(":")
    loaded: Callable[[Settings], Any] = getattr(importlib.import_module(module_name), function)
    if inspect.iscoroutinefunction(loaded):
        return loaded
    return lambda settings: asyncio.to_thread(loaded, settings)


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec(
        "feedback",
        "feedback_svc.target",
        "feedbackmesh.feedback.v1.FeedbackService",
        grpc_port=50051,
        metrics_port=9101,
        migration="feedback_svc.migrations:migrate_database",
        schema_check="feedback_svc.migrations:schema_is_current",
    ),
    ServiceSpec(
        "sentiment",
        "sentiment_svc.target",
        "feedbackmesh.sentiment.v1.SentimentService",
        grpc_port=50052,
        metrics_port=9102,
    ),
    ServiceSpec(
        "ingest",
        "ingest_svc.target",
        "feedbackmesh.ingest.v1.IngestService",
        grpc_port=50053,
        metrics_port=9103,
        uses_clickhouse=True,
        migration="ingest_svc.schema:migrate_clickhouse",
        schema_check="ingest_svc.schema:schema_is_current",
    ),
    ServiceSpec(
        "analytics",
        "analytics_svc.target",
        "feedbackmesh.analytics.v1.AnalyticsService",
        grpc_port=50054,
        metrics_port=9104,
        uses_clickhouse=True,
        # Analytics reads the tables ingest's migrations create.
        schema_check="ingest_svc.schema:schema_is_current",
    ),
)
SERVICE_NAMES: tuple[str, ...] = tuple(spec.name for spec in SERVICES)
_BY_NAME = {spec.name: spec for spec in SERVICES}


def spec(name: str) -> ServiceSpec:
    return _BY_NAME[name]


def default_peers() -> dict[str, str]:
    """Where each service listens when every one runs on this host with its default port."""
    return {s.name: f"127.0.0.1:{s.grpc_port}" for s in SERVICES}


def with_default_peers(settings: Settings) -> Settings:
    """``settings`` whose ``peers`` name every service (configured addresses win)."""
    missing = {k: v for k, v in default_peers().items() if k not in settings.peers}
    if not missing:
        return settings
    return settings.model_copy(update={"peers": missing | dict(settings.peers)})


def upstreams(peers: dict[str, str]) -> list[Upstream]:
    """The gateway's upstream per service, at the addresses in ``peers``."""
    return [Upstream(s.name, s.proto_service, peers[s.name]) for s in SERVICES]


def process_groups(names: Iterable[str], *, embedded_clickhouse: bool) -> list[tuple[str, ...]]:
    """How ``names`` split into processes when each runs on its own: one per service,
    except that with embedded ClickHouse the ClickHouse users share one process."""
    groups: list[tuple[str, ...]] = []
    shared: list[str] = []
    for name in dict.fromkeys(names):
        if embedded_clickhouse and spec(name).uses_clickhouse:
            if not shared:
                groups.append(())  # placeholder keeps the group where its first member is
            shared.append(name)
        else:
            groups.append((name,))
    return [tuple(shared) if group == () else group for group in groups]


def colocation_problem(names: Sequence[str], *, embedded_clickhouse: bool) -> str | None:
    """Why ``names`` cannot be served by one process on their own, or None."""
    if not embedded_clickhouse:
        return None
    users = [s.name for s in SERVICES if s.uses_clickhouse]
    asked = set(users) & set(names)
    if asked and asked != set(users):
        return (
            "embedded ClickHouse (chDB) opens its data directory in one process only, so "
            f"{' and '.join(users)} must be served together: `feedbackmesh serve "
            f"{' '.join(users)}`; or set FEEDBACKMESH_CLICKHOUSE_URL to a ClickHouse server"
        )
    return None
