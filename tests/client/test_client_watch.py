"""``watch_analytics`` keeps watching: on a real gRPC server (the mesh's MeshServer) whose
WatchAnalytics streams, ends (as a draining server does) and fails as scripted, and behind
the real Envoy gateway, whose route timeout cuts a live stream with an HTTP/2 reset.
(Against the real AnalyticsService: tests/client/test_client_analytics.py.)"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
import pytest_asyncio
from client_helpers import Flavour, abort, scripted_server

from feedbackmesh.analytics.v1 import analytics_pb2, analytics_pb2_grpc
from feedbackmesh.client import RetryPolicy, RpcError, UnavailableError
from gateway import DEFAULT_DESCRIPTOR
from gateway import config as gateway_config
from gateway.envoy import start_envoy, stop_envoy, wait_until_ready
from mesh_app import registry
from mesh_runtime.auth import SCOPE_ANALYTICS_READ
from mesh_runtime.net import free_port
from mesh_runtime.settings import Settings

SERVICE = "feedbackmesh.analytics.v1.AnalyticsService"
FAST = RetryPolicy(max_attempts=4, initial_backoff=0.01, max_backoff=0.05)
UNAVAILABLE, EXHAUSTED = grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED
INTERNAL = grpc.StatusCode.INTERNAL

# One WatchAnalytics call: data versions to send, then maybe a failure. Without one the
# server ends the stream, unless it is the last scripted call: that one stays open.
Episode = tuple[int | grpc.StatusCode, ...]


@dataclass
class ScriptedWatch(analytics_pb2_grpc.AnalyticsServiceServicer):
    script: list[Episode] = field(default_factory=list)
    calls: int = 0

    async def WatchAnalytics(
        self, request: Any, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[analytics_pb2.WatchAnalyticsResponse]:
        self.calls += 1
        # Unscripted: the call's number as the version, held open.
        episode = self.script.pop(0) if self.script else (self.calls,)
        for step in episode:
            if isinstance(step, grpc.StatusCode):
                await abort(context, step)
                return
            yield analytics_pb2.WatchAnalyticsResponse(data_version=step)
        if not self.script:
            await asyncio.Event().wait()  # until the call is cancelled

    def start(self, *script: Episode) -> None:
        self.calls = 0
        self.script[:] = script


@dataclass
class Server:
    address: str
    watch: ScriptedWatch
    token: str

    def options(self, **overrides: Any) -> dict[str, Any]:
        options = {"target": self.address, "tls": False, "token": self.token, "retry": FAST}
        return options | overrides


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def server(settings: Settings, token_for: Callable[..., str]) -> AsyncIterator[Server]:
    watch = ScriptedWatch()
    method = f"/{SERVICE}/WatchAnalytics"

    def register(server: grpc.aio.Server) -> None:
        analytics_pb2_grpc.add_AnalyticsServiceServicer_to_server(watch, server)

    async with scripted_server(
        settings, "analytics", method, SCOPE_ANALYTICS_READ, register
    ) as address:
        yield Server(address, watch, token_for("watch-tenant", "u"))


async def versions(flavour: Flavour, client: Any, count: int) -> list[int]:
    events = flavour.stream(client.watch_analytics)
    try:
        return [(await events.next()).data_version for _ in range(count)]
    finally:
        await events.close()


async def test_ended_streams_are_reopened_and_attempts_count_from_the_last_event(
    server: Server, flavour: Flavour
) -> None:
    # Five failures, more than FAST's four attempts, but never more than three in a row.
    server.watch.start((1, 2), (UNAVAILABLE,), (UNAVAILABLE,), (UNAVAILABLE,), (3,))
    server.watch.script += [(EXHAUSTED,), (UNAVAILABLE,), (4,)]
    async with flavour.client(**server.options()) as client:
        assert await versions(flavour, client, 4) == [1, 2, 3, 4]
    assert server.watch.calls == 8


async def test_the_error_is_raised_once_the_attempts_after_an_event_run_out(
    server: Server, flavour: Flavour
) -> None:
    server.watch.start((7,), *[(UNAVAILABLE,)] * FAST.max_attempts, (8,))
    async with flavour.client(**server.options()) as client:
        events = flavour.stream(client.watch_analytics)
        try:
            assert (await events.next()).data_version == 7
            with pytest.raises(UnavailableError) as unavailable:
                await events.next()
        finally:
            await events.close()
    assert unavailable.value.attempts == FAST.max_attempts
    assert server.watch.calls == 1 + FAST.max_attempts


async def test_a_stream_broken_after_events_is_reopened_but_internal_on_opening_raises(
    server: Server, flavour: Flavour
) -> None:
    server.watch.start((1, INTERNAL), (2, INTERNAL), (INTERNAL,), (3,))
    async with flavour.client(**server.options()) as client:
        events = flavour.stream(client.watch_analytics)
        try:
            assert [(await events.next()).data_version for _ in range(2)] == [1, 2]
            with pytest.raises(RpcError) as internal:
                await events.next()
        finally:
            await events.close()
    assert internal.value.code == INTERNAL and server.watch.calls == 3


async def test_a_watch_through_the_gateway_outlives_its_route_timeout(
    server: Server,
    flavour: Flavour,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(gateway_config, "WATCH_TIMEOUT", "2s")
    local = settings.model_copy(
        update={"gateway_host": "127.0.0.1", "gateway_port": free_port()}
        | {"envoy_admin_port": free_port()}
    )
    upstreams = registry.upstreams(registry.default_peers() | {"analytics": server.address})
    config_path = tmp_path / "envoy.yaml"
    config_path.write_text(
        gateway_config.render_envoy_config(
            local, descriptor=DEFAULT_DESCRIPTOR.read_bytes(), upstreams=upstreams
        )
    )
    envoy = start_envoy(config_path, tmp_path / "envoy.log", log_level="warn")
    try:
        await asyncio.to_thread(
            wait_until_ready, envoy, local.envoy_admin_port, log_path=tmp_path / "envoy.log"
        )
        server.watch.start()
        # Until Envoy's first health check passes the upstream, calls are UNAVAILABLE.
        patient = RetryPolicy(max_attempts=30, initial_backoff=0.1, max_backoff=1.0)
        gateway = f"127.0.0.1:{local.gateway_port}"
        async with flavour.client(**server.options(target=gateway, retry=patient)) as client:
            # Each version is the number of the stream that sent it: every one was opened
            # again after Envoy reset the one before at its 2 s route timeout.
            assert await versions(flavour, client, 3) == [1, 2, 3]
    finally:
        stop_envoy(envoy)
