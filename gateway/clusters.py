"""The gateway's upstream clusters: one HTTP/2 cluster per service, gRPC health-checked."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

Json = dict[str, Any]

OTLP_CLUSTER = "otlp_collector"
HTTP_OPTIONS = "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions"


@dataclass(frozen=True)
class Upstream:
    """One service behind the gateway."""

    name: str  # the service's name in the registry: "feedback"
    proto_service: str  # fully-qualified gRPC service, probed by the health checks
    address: str  # host:port

    @property
    def cluster(self) -> str:
        return cluster_name(self.name)


def split_host_port(addr: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` -> (host, port)."""
    host, sep, port = addr.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"upstream address must be host:port, got {addr!r}")
    return host.strip("[]"), int(port)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


HTTP2_ONLY: Json = {
    "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
        "@type": HTTP_OPTIONS,
        "explicit_http_config": {"http2_protocol_options": {}},
    }
}


def _load_assignment(name: str, host: str, port: int) -> Json:
    endpoint = {"address": {"socket_address": {"address": host, "port_value": port}}}
    return {"cluster_name": name, "endpoints": [{"lb_endpoints": [{"endpoint": endpoint}]}]}


def cluster_name(key: str) -> str:
    return f"{key}_grpc"


def upstream_cluster(upstream: Upstream, limit: int) -> Json:
    host, port = split_host_port(upstream.address)
    name = upstream.cluster
    cluster: Json = {
        "name": name,
        # An IP needs no resolver; a name (compose service, k8s Service) is re-resolved so
        # that replaced pods are picked up.
        "type": "STATIC" if _is_ip(host) else "STRICT_DNS",
        "connect_timeout": "1s",
        "lb_policy": "ROUND_ROBIN",
        "per_connection_buffer_limit_bytes": limit,
        "typed_extension_protocol_options": HTTP2_ONLY,
        "load_assignment": _load_assignment(name, host, port),
        "health_checks": [
            {
                "timeout": "1s",
                "interval": "2s",
                # Re-probe a down service quickly so a restarted process is back in ~1 s.
                "unhealthy_interval": "1s",
                # Default is 60 s: an idle cluster would keep a stale verdict for a minute.
                "no_traffic_interval": "3s",
                "unhealthy_threshold": 2,
                "healthy_threshold": 1,
                "grpc_health_check": {"service_name": upstream.proto_service},
            }
        ],
        # 0: with no healthy host answer 503 at once instead of "panic" routing to all hosts.
        "common_lb_config": {"healthy_panic_threshold": {"value": 0.0}},
    }
    if not _is_ip(host):
        cluster["dns_lookup_family"] = "V4_PREFERRED"
    return cluster


def otlp_cluster(endpoint: str | None) -> Json:
    """The OTLP/gRPC collector Envoy exports its spans to (``http://host:port``). Without an
    endpoint it has no hosts: Envoy's tracer needs an exporter, and samples nothing then."""
    if endpoint is None:
        return {
            "name": OTLP_CLUSTER,
            "type": "STATIC",
            "connect_timeout": "1s",
            "typed_extension_protocol_options": HTTP2_ONLY,
            "load_assignment": {"cluster_name": OTLP_CLUSTER},
        }
    host, port = split_host_port(endpoint.split("://", 1)[-1].rstrip("/"))
    return {
        "name": OTLP_CLUSTER,
        "type": "STATIC" if _is_ip(host) else "STRICT_DNS",
        "connect_timeout": "1s",
        "typed_extension_protocol_options": HTTP2_ONLY,
        "load_assignment": _load_assignment(OTLP_CLUSTER, host, port),
    }
