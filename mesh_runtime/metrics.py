"""Prometheus metrics shared by every service, and the per-process /metrics endpoint.

Metric objects live at module level (as prometheus_client intends): one process
registers them once, however many targets and test servers it runs.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from wsgiref.simple_server import WSGIServer

import grpc
from google.protobuf import descriptor_pool
from prometheus_client import Counter, Histogram, disable_created_metrics, start_http_server

from mesh_runtime.settings import Settings

# Buckets from 0.5 ms, dense where healthy unary RPCs of the mesh fall.
LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip

GRPC_STARTED = Counter(
    "grpc_server_started_total",
    "RPCs started on the server.",
    ["grpc_type", "grpc_service", "grpc_method"],
)
GRPC_HANDLED = Counter(
    "grpc_server_handled_total",
    "RPCs completed on the server, by status code.",
    ["grpc_type", "grpc_service", "grpc_method", "grpc_code"],
)
GRPC_LATENCY = Histogram(
    "grpc_server_handling_seconds",
    "Time to handle an RPC, from receipt to the last response message.",
    ["grpc_type", "grpc_service", "grpc_method"],
    buckets=LATENCY_BUCKETS,
)


# Codes a mesh RPC commonly ends with: their series exist from the start, so that
# ``increase()`` over the first errors after a restart is not 0.
COMMON_CODES = tuple(
    code.name
    for code in (
        grpc.StatusCode.OK,
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.UNAUTHENTICATED,
    )
)
# Codes that are the server's fault (the alert rules and the trace status use the same set).
SERVER_ERROR_CODES = frozenset(
    {"UNKNOWN", "INTERNAL", "UNAVAILABLE", "DEADLINE_EXCEEDED", "DATA_LOSS", "UNIMPLEMENTED"}
)
UNARY = "unary"
SERVER_STREAM = "server_stream"
OTHER_TENANTS = "other"


def initialise_rpc_series(service_names: Iterable[str]) -> None:
    """Creates every RPC's started, latency and handled-by-common-code series at zero
    (the methods come from the services' descriptors)."""
    pool = descriptor_pool.Default()
    for service_name in service_names:
        for method in pool.FindServiceByName(service_name).methods:
            kind = SERVER_STREAM if method.server_streaming else UNARY
            GRPC_STARTED.labels(kind, service_name, method.name)
            GRPC_LATENCY.labels(kind, service_name, method.name)
            for code in COMMON_CODES:
                GRPC_HANDLED.labels(kind, service_name, method.name, code)


class TenantLabels:
    """Bounds the ``tenant_id`` label: the tenants named in ``metrics_tenants``, else the
    first ``metrics_tenant_limit`` tenants this process sees, keep their id; every other
    tenant is counted as "other" (limit 0: all of them)."""

    def __init__(self, settings: Settings) -> None:
        self._named = frozenset(settings.metrics_tenants)
        self._limit = 0 if self._named else settings.metrics_tenant_limit
        self._labels: dict[str, str] = {}

    def __call__(self, tenant_id: str) -> str:
        label = self._labels.get(tenant_id)
        if label is not None:
            return label
        if tenant_id in self._named or len(self._labels) < self._limit:
            self._labels[tenant_id] = tenant_id
            return tenant_id
        return OTHER_TENANTS


def split_method(full_method: str) -> tuple[str, str]:
    """'/pkg.Service/Method' -> ('pkg.Service', 'Method')."""
    _, service, method = full_method.split("/", 2)
    return service, method


class MetricsEndpoint:
    """Serves the default registry at http://host:port/metrics on a daemon thread."""

    def __init__(self, host: str, port: int) -> None:
        # The ``_created`` series double every counter and histogram and no rule reads them.
        disable_created_metrics()
        self._server: WSGIServer
        self._thread: threading.Thread
        self._server, self._thread = start_http_server(port, addr=host)

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
