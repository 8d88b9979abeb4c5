"""What a service contributes to a server process (Loki-style targets).

Each service package has ``<package>/target.py`` with
``async def create_target(settings: Settings, resources: Resources) -> ServiceTarget``;
the registry (``mesh_app.registry``) names them, and ``feedbackmesh serve feedback
ingest`` serves the targets it builds on one gRPC server.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

import grpc


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
    # Called when draining starts, before in-flight calls get their grace period: ends
    # long-lived streams (their clients reconnect to another replica).
    on_drain: Callable[[], Awaitable[None]] | None = None
    # Called after the server drained: stop background work, flush, close.
    on_stop: Callable[[], Awaitable[None]] | None = None
    # The target's internals, for tests and benchmarks that drive them directly.
    extra: dict[str, object] = field(default_factory=dict)
