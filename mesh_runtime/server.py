"""The grpc.aio server bootstrap every service uses: interceptors, health,
reflection, message-size limits, a /metrics endpoint, graceful drain."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Sequence

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from mesh_runtime.auth import TokenVerifier
from mesh_runtime.channels import channel_options
from mesh_runtime.interceptors import MeshServerInterceptor
from mesh_runtime.metrics import MetricsEndpoint, initialise_rpc_series
from mesh_runtime.settings import Settings
from mesh_runtime.targets import ServiceTarget

logger = logging.getLogger(__name__)


class MeshServer:
    """One gRPC server serving one or more targets.

    ``port=0`` binds an ephemeral port (tests); ``metrics_port=None`` serves no
    /metrics endpoint, 0 an ephemeral one.
    """

    def __init__(
        self,
        settings: Settings,
        targets: Sequence[ServiceTarget],
        *,
        port: int,
        metrics_port: int | None,
        host: str | None = None,
    ) -> None:
        self._settings = settings
        self._targets = list(targets)
        self._host = host if host is not None else settings.grpc_host
        self._requested_port = port
        self._requested_metrics_port = metrics_port
        self._port = 0
        self._metrics: MetricsEndpoint | None = None
        self._health = health.aio.HealthServicer()
        self._stopped = asyncio.Event()
        self._stopping = False
        scopes: dict[str, str] = {}
        for target in self._targets:
            scopes.update(target.method_scopes)
        self._server = grpc.aio.server(
            interceptors=[MeshServerInterceptor(TokenVerifier(settings), scopes)],
            options=[
                *channel_options(settings),
                ("grpc.so_reuseport", 0),
                # Clients re-connect now and then: a peer channel re-resolves its
                # headless Service then and finds new replicas, and a caller through a
                # ClusterIP (HTTP/2 is sticky) lands on another pod.
                ("grpc.max_connection_age_ms", 30_000),
                ("grpc.max_connection_age_grace_ms", 60_000),
            ],
        )

    @property
    def port(self) -> int:
        return self._port

    @property
    def metrics_port(self) -> int | None:
        return self._metrics.port if self._metrics else None

    @property
    def service_names(self) -> list[str]:
        return [name for target in self._targets for name in target.service_names]

    async def start(self) -> None:
        for target in self._targets:
            target.register(self._server)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
        reflection.enable_server_reflection(
            [*self.service_names, health.SERVICE_NAME, reflection.SERVICE_NAME], self._server
        )
        initialise_rpc_series(self.service_names)
        self._port = self._server.add_insecure_port(f"{self._host}:{self._requested_port}")
        if self._port == 0:
            raise OSError(f"cannot bind gRPC port {self._host}:{self._requested_port}")
        if self._requested_metrics_port is not None:
            self._metrics = MetricsEndpoint(
                self._settings.metrics_host, self._requested_metrics_port
            )
        await self._server.start()
        for target in self._targets:
            if target.on_start is not None:
                await target.on_start()
        for name in ["", *self.service_names]:
            await self._health.set(name, health_pb2.HealthCheckResponse.SERVING)
        logger.info(
            "serving",
            extra={
                "targets": [t.name for t in self._targets],
                "grpc_port": self._port,
                "metrics_port": self.metrics_port,
            },
        )

    async def stop(self, grace: float | None = None, delay: float | None = None) -> None:
        """Drains: health turns NOT_SERVING first and new calls are still served for
        ``delay`` seconds (load balancers notice and stop sending), then in-flight calls
        get ``grace`` seconds to finish, then background work stops."""
        if self._stopping:
            await self._stopped.wait()
            return
        self._stopping = True
        grace = self._settings.drain_grace_seconds if grace is None else grace
        delay = self._settings.drain_delay_seconds if delay is None else delay
        await self._health.enter_graceful_shutdown()
        logger.info("draining", extra={"delay_seconds": delay, "grace_seconds": grace})
        await asyncio.sleep(delay)
        for target in self._targets:
            if target.on_drain is not None:
                try:
                    await target.on_drain()
                except Exception:
                    logger.exception("error draining target %s", target.name)
        await self._server.stop(grace)
        for target in reversed(self._targets):
            if target.on_stop is not None:
                try:
                    await target.on_stop()
                except Exception:
                    logger.exception("error stopping target %s", target.name)
        if self._metrics is not None:
            self._metrics.close()
        self._stopped.set()

    async def wait_stopped(self) -> None:
        await self._stopped.wait()

    async def run_until_signal(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, lambda: asyncio.ensure_future(self.stop()))
        await self.wait_stopped()
