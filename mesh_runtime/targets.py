"""What a service contributes to a server process (Loki-style targets).

Each service package has ``<package>/target.py`` with
``async def create_target(settings: Settings, resources: Resources) -> ServiceTarget``.
``feedbackmesh serve feedback ingest`` builds those targets and serves them all on one
gRPC server.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import grpc

if TYPE_CHECKING:
    from mesh_runtime.resources import Resources
    from mesh_runtime.settings import Settings

TARGET_MODULES: Mapping[str, str] = {
    "feedback": "feedback_svc.target",
    "sentiment": "sentiment_svc.target",
    "ingest": "ingest_svc.target",
    "analytics": "analytics_svc.target",
}
ALL_TARGETS = tuple(TARGET_MODULES)


@dataclass
class ServiceTarget:
    name: str
    # Full proto service names, e.g. "feedbackmesh.feedback.v1.FeedbackService":
    # reported by health and reflection.
    service_names: Sequence[str]
    # "/pkg.Service/Method" -> scope the caller's token must carry.
    method_scopes: Mapping[str, str]
    # Adds the servicers to the server.
    register: Callable[[grpc.aio.Server], None]
    # Background work (workers, pollers), started once the server is serving.
    on_start: Callable[[], Awaitable[None]] | None = None
    # Called after the server drained: stop background work, flush, close.
    on_stop: Callable[[], Awaitable[None]] | None = None
    # The target's internals, for tests and benchmarks that drive them directly.
    extra: dict[str, object] = field(default_factory=dict)


async def create_targets(
    names: Sequence[str], settings: Settings, resources: Resources
) -> list[ServiceTarget]:
    targets = []
    for name in names:
        module = importlib.import_module(TARGET_MODULES[name])
        targets.append(await module.create_target(settings, resources))
    return targets
