"""Is the mesh up? gRPC health (grpc.health.v1) of every service, then the gateway's
``/readyz`` (Envoy's own view of the upstreams: active health checks passed), so the first
request a user sends after "ready" is not answered 503 "no healthy upstream"."""

from __future__ import annotations

import logging
import urllib.error
import urllib.request

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gateway.clusters import cluster_name
from mesh_app import registry

logger = logging.getLogger(__name__)


class HealthProbe:
    """Keeps one channel per address: a new channel per probe would cost a connect each."""

    def __init__(self) -> None:
        self._channels: dict[str, grpc.Channel] = {}

    def service_serving(self, addr: str, service: str, timeout: float = 1.0) -> bool:
        channel = self._channels.get(addr)
        if channel is None:
            channel = self._channels[addr] = grpc.insecure_channel(addr)
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout)
        except grpc.RpcError:
            return False
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

    def close(self) -> None:
        for channel in self._channels.values():
            channel.close()
        self._channels.clear()


def http_ok(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - our URL
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def unhealthy_clusters(admin_url: str, keys: list[str], timeout: float = 1.0) -> list[str]:
    """Service keys whose Envoy cluster has no host passing active health checks."""
    try:
        with urllib.request.urlopen(f"{admin_url}/clusters", timeout=timeout) as response:  # noqa: S310
            text = response.read().decode("utf-8", errors="replace")
    except (urllib.error.URLError, OSError):
        return list(keys)
    healthy = {
        line.split("::", 1)[0] for line in text.splitlines() if "::health_flags::healthy" in line
    }
    return [key for key in keys if cluster_name(key) not in healthy]


def service_name(key: str) -> str:
    return registry.spec(key).proto_service
