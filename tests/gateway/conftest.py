"""Fixtures for the gateway tests: a real grpc.aio server with fake services behind a real Envoy
(helpers: gateway_helpers.py)."""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import grpc
import pytest

# --import-mode=importlib puts no test directory on sys.path; the helpers sit next to this file
# (conftest is imported before the test modules of its directory).
sys.path.insert(0, str(Path(__file__).resolve().parent))

from gateway_helpers import (
    ANALYTICS_SERVICE,
    FEEDBACK_SERVICE,
    INGEST_SERVICE,
    SENTIMENT_SERVICE,
    FakeFeedback,
    FakeSentiment,
    Gateway,
    GrpcServer,
    cluster_healthy,
    mesh_upstreams,
    wait_for,
)
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from feedbackmesh.feedback.v1 import feedback_pb2_grpc
from feedbackmesh.sentiment.v1 import sentiment_pb2_grpc
from gateway import DEFAULT_DESCRIPTOR
from gateway.config import render_envoy_config
from gateway.envoy import start_envoy, stop_envoy, wait_until_ready
from mesh_runtime.channels import channel_options
from mesh_runtime.net import free_port
from mesh_runtime.settings import Settings


@pytest.fixture(scope="session")
def descriptor_bytes() -> bytes:
    return DEFAULT_DESCRIPTOR.read_bytes()


@pytest.fixture(scope="module")
def backend() -> Iterator[GrpcServer]:
    """A real grpc.aio server on its own loop in a thread, so it answers Envoy's health
    checks whatever the test thread is doing."""
    servicer = FakeSentiment()
    feedback = FakeFeedback()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    stop = asyncio.Event()
    port_box: list[int] = []

    async def serve() -> None:
        # The mesh's own limits (message and metadata sizes), as MeshServer sets them.
        server = grpc.aio.server(options=channel_options(Settings()))
        sentiment_pb2_grpc.add_SentimentServiceServicer_to_server(servicer, server)
        feedback_pb2_grpc.add_FeedbackServiceServicer_to_server(feedback, server)
        health_servicer = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
        # Ingest and analytics too: a gateway pointed at this server for them is ready.
        for name in (SENTIMENT_SERVICE, FEEDBACK_SERVICE, INGEST_SERVICE, ANALYTICS_SERVICE):
            await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
        port_box.append(server.add_insecure_port("127.0.0.1:0"))
        await server.start()
        ready.set()
        await stop.wait()
        await server.stop(grace=None)

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(10), "gRPC test server did not start"
    try:
        yield GrpcServer(port_box[0], servicer, feedback)
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()


@contextmanager
def running_gateway(
    backend: GrpcServer,
    descriptor: bytes,
    tmp: Path,
    addresses: dict[str, str] | None = None,
    **overrides: Any,
) -> Iterator[Gateway]:
    """Envoy in front of the fake sentiment and feedback services; ingest and analytics point
    at a port nobody listens on (their clusters stay unhealthy) unless ``addresses`` says
    otherwise (service name -> host:port). Envoy is always stopped."""
    dead = f"127.0.0.1:{free_port()}"
    settings = Settings(
        gateway_host="127.0.0.1",
        gateway_port=free_port(),
        envoy_admin_port=free_port(),
        cors_allowed_origins=["http://localhost:3000"],
        **overrides,
    )
    config = render_envoy_config(
        settings,
        descriptor=descriptor,
        upstreams=mesh_upstreams(
            **{
                "sentiment": f"127.0.0.1:{backend.port}",
                "feedback": f"127.0.0.1:{backend.port}",
                "ingest": dead,
                "analytics": dead,
                **(addresses or {}),
            }
        ),
    )
    config_path = tmp / "envoy.yaml"
    config_path.write_text(config)
    log_path = tmp / "envoy.log"
    proc = start_envoy(config_path, log_path, log_level="warn")
    try:
        wait_until_ready(proc, settings.envoy_admin_port, log_path=log_path)
        admin_url = f"http://127.0.0.1:{settings.envoy_admin_port}"
        healthy = {"sentiment", "feedback"} | set(addresses or {})
        for cluster in sorted(f"{name}_grpc" for name in healthy):
            wait_for(partial(cluster_healthy, admin_url, cluster), 10, f"{cluster} healthy")
        yield Gateway(f"http://127.0.0.1:{settings.gateway_port}", admin_url, log_path)
    finally:
        stop_envoy(proc)


@pytest.fixture(scope="module")
def gateway(
    backend: GrpcServer, descriptor_bytes: bytes, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    with running_gateway(backend, descriptor_bytes, tmp_path_factory.mktemp("envoy")) as gw:
        yield gw


@pytest.fixture
def gateway_factory(
    backend: GrpcServer, descriptor_bytes: bytes, tmp_path: Path
) -> Iterator[Callable[..., AbstractContextManager[Gateway]]]:
    """``with gateway_factory(jwt_algorithm="RS256", ...) as gw:`` an extra Envoy
    (``addresses={"feedback": ...}`` points services elsewhere)."""

    def make(
        addresses: dict[str, str] | None = None, **overrides: Any
    ) -> AbstractContextManager[Gateway]:
        return running_gateway(backend, descriptor_bytes, tmp_path, addresses, **overrides)

    yield make
