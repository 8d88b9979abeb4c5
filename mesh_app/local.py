"""Servers started inside this process on ephemeral ports: for tests and benchmarks
(production processes use ``feedbackmesh serve``)."""

from __future__ import annotations

from collections.abc import Sequence

from mesh_app import registry
from mesh_app.targets import create_targets
from mesh_runtime.resources import Resources
from mesh_runtime.server import MeshServer
from mesh_runtime.settings import Settings
from mesh_runtime.targets import ServiceTarget


class LocalMesh:
    def __init__(self) -> None:
        self._started: list[tuple[MeshServer, Resources]] = []

    async def start(
        self,
        targets: Sequence[str | ServiceTarget],
        settings: Settings,
        *,
        metrics: bool = False,
    ) -> MeshServer:
        """Serves ``targets`` (names built by their packages' ``create_target``, or ready
        ``ServiceTarget`` objects) on 127.0.0.1 port 0; ``metrics`` adds a /metrics port."""
        settings = registry.with_default_peers(settings)
        resources = Resources(settings)
        names = [t for t in targets if isinstance(t, str)]
        built = await create_targets(names, settings, resources)
        built += [t for t in targets if isinstance(t, ServiceTarget)]
        server = MeshServer(
            settings, built, port=0, metrics_port=0 if metrics else None, host="127.0.0.1"
        )
        await server.start()
        self._started.append((server, resources))
        return server

    async def stop(self) -> None:
        """Stops everything started, newest first, without a drain delay."""
        while self._started:
            server, resources = self._started.pop()
            await server.stop(grace=1.0, delay=0)
            await resources.close()
