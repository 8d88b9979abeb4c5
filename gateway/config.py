"""Render the Envoy gateway configuration (v3 bootstrap) from the mesh settings.

The config is built as plain dicts and serialised as JSON, which is also valid YAML, so
the same text works as an Envoy ``-c`` file, a Kubernetes ConfigMap or a compose volume.
Filter order matters and is: compressor (gzips the dashboard's files on the way out) ->
CORS (answers preflights before anyone asks for a token) -> health check (answers
``/readyz`` from the clusters' health) -> size limits (413/414, :mod:`gateway.refusals`) ->
jwt_authn (sees the public ``/v1/`` path) -> gRPC-JSON transcoder (rewrites the path to
``/<pkg>.<Service>/<Method>`` and clears the route cache) -> router (matches the gRPC path).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gateway import filters, refusals
from gateway.clusters import Upstream, otlp_cluster, upstream_cluster
from gateway.dashboard import BUNDLE_DIR, MAX_FILE_BYTES, compressor_filter, dashboard_routes
from gateway.descriptor import Method, load_descriptor_bytes, service_methods
from mesh_runtime.settings import Settings

logger = logging.getLogger(__name__)

Json = dict[str, Any]

# Envoy's type URLs, spelled once.
_T = "type.googleapis.com/envoy."
HCM = _T + "extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
FILTER_CONFIG = _T + "config.route.v3.FilterConfig"
MAX_CONNECTIONS = (
    _T + "extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig"
)

MIN_BODY_LIMIT = 8 * 1024 * 1024
# Headers only the mesh may set: a client sending them is trying to choose its identity.
IDENTITY_HEADERS = ("x-feedbackmesh-tenant", "x-feedbackmesh-user", "x-jwt-payload")
UNARY_TIMEOUT = "30s"
EXPORT_TIMEOUT = "300s"
# A live stream's whole life: its keep-alives keep it under stream_idle_timeout, and
# clients reconnect when it ends.
WATCH_TIMEOUT = "3600s"
UNROUTED_CLUSTER = "unrouted"
HEALTHZ_BODY = '{"status":"SERVING"}'


def body_limit(settings: Settings) -> int:
    """Bytes Envoy buffers per request/response: the gRPC message limit, never below 8 MiB."""
    return max(settings.grpc_max_message_bytes, MIN_BODY_LIMIT)


def _retry_policy(*, idempotent: bool) -> Json:
    # connect-failure / refused-stream never reached the service: safe for any call.
    retry_on = "connect-failure,refused-stream"
    if idempotent:
        retry_on += ",unavailable,cancelled,reset"
    return {
        "retry_on": retry_on,
        "num_retries": 2,
        "retry_back_off": {"base_interval": "0.05s", "max_interval": "0.5s"},
    }


def _timeout(method: Method) -> str:
    if method.is_watch:
        return WATCH_TIMEOUT
    return EXPORT_TIMEOUT if method.is_export else UNARY_TIMEOUT


def _method_route(method: Method, cluster: str) -> Json:
    return {
        "name": f"{method.service}.{method.name}",
        "match": {"path": method.grpc_path},
        "route": {
            "cluster": cluster,
            "timeout": _timeout(method),
            "retry_policy": _retry_policy(idempotent=method.idempotent),
        },
    }


# Direct-response routes must turn the transcoder off: with reject_unknown_method it would
# 404 their paths before the router could answer.
NO_TRANSCODING: Json = {
    "envoy.filters.http.grpc_json_transcoder": {"@type": FILTER_CONFIG, "disabled": True}
}


def _routes(
    upstreams: Sequence[Upstream],
    methods: Mapping[str, list[Method]],
    origins: list[str],
    dashboard_dir: Path,
) -> list[Json]:
    routes: list[Json] = filters.cors_refusal_routes(origins, NO_TRANSCODING)
    routes += [
        {
            "name": "healthz",
            "match": {"path": "/healthz"},
            "direct_response": {"status": 200, "body": {"inline_string": HEALTHZ_BODY}},
            "response_headers_to_add": [
                {
                    "header": {"key": "content-type", "value": "application/json"},
                    "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
                }
            ],
            "typed_per_filter_config": NO_TRANSCODING,
        }
    ]
    routes += dashboard_routes(dashboard_dir, NO_TRANSCODING)
    # One exact route per public (HTTP-bound) method, matched on the gRPC path the
    # transcoder rewrites to. Internal RPCs (outbox pull/ack, IngestEvents) get no route,
    # so the edge cannot reach them even with a valid token.
    for upstream in upstreams:
        methods_of = methods[upstream.proto_service]
        routes += [_method_route(m, upstream.cluster) for m in methods_of if m.http_verb]
    routes += [
        # The CORS filter runs on the public path, before transcoding, and only acts when that
        # path matches a route with a route entry (a direct_response route is ignored). The
        # router never sees this route for JSON calls: the transcoder either rewrites the path
        # (re-matched above) or answers 404 itself.
        {
            "name": "public_api",
            "match": {"prefix": "/v1/"},
            "route": {"cluster": UNROUTED_CLUSTER, "timeout": UNARY_TIMEOUT},
        },
        # Unknown gRPC paths, internal RPCs included.
        {
            "name": "not_found",
            "match": {"prefix": "/"},
            "direct_response": {"status": 404, "body": {"inline_string": "no such route"}},
        },
    ]
    return routes


def _http_connection_manager(
    settings: Settings,
    descriptor: Path | bytes,
    upstreams: Sequence[Upstream],
    methods: Mapping[str, list[Method]],
    limit: int,
    dashboard_dir: Path,
) -> Json:
    cors = filters.cors_policy(settings.cors_allowed_origins)
    return {
        "@type": HCM,
        "stat_prefix": "gateway",
        "codec_type": "AUTO",
        "use_remote_address": True,
        "normalize_path": True,
        "merge_slashes": True,
        "stream_idle_timeout": "300s",
        "access_log": filters.access_log(),
        "tracing": filters.tracing(settings),
        "local_reply_config": refusals.local_reply_config(),
        "max_request_headers_kb": refusals.MAX_REQUEST_HEADERS_KB,
        "common_http_protocol_options": {
            # x_feedbackmesh_tenant must not sneak past the identity-header strip below.
            "headers_with_underscores_action": "DROP_HEADER",
            "max_headers_count": refusals.MAX_REQUEST_HEADERS,
        },
        "route_config": {
            "name": "gateway",
            "max_direct_response_body_size_bytes": MAX_FILE_BYTES,
            "request_headers_to_remove": list(IDENTITY_HEADERS),
            "virtual_hosts": [
                {
                    "name": "gateway",
                    "domains": ["*"],
                    "routes": _routes(
                        upstreams, methods, settings.cors_allowed_origins, dashboard_dir
                    ),
                    "typed_per_filter_config": {"envoy.filters.http.cors": cors},
                }
            ],
        },
        "http_filters": [
            # First, so it sees every response last (the dashboard's direct responses too).
            compressor_filter(),
            {"name": "envoy.filters.http.cors", "typed_config": {"@type": filters.CORS}},
            # Before the token check: a probe needs none, an oversized request is refused
            # for its size whoever sends it.
            refusals.readiness_filter([u.cluster for u in upstreams]),
            refusals.size_limits_filter(limit),
            {"name": "envoy.filters.http.jwt_authn", "typed_config": filters.jwt_authn(settings)},
            {
                "name": "envoy.filters.http.grpc_json_transcoder",
                "typed_config": filters.transcoder(descriptor, limit, list(methods)),
            },
            {"name": "envoy.filters.http.router", "typed_config": {"@type": filters.ROUTER}},
        ],
    }


def build_envoy_config(
    settings: Settings,
    *,
    descriptor: Path | bytes,
    upstreams: Sequence[Upstream],
    admin_address: str = "127.0.0.1",
    dashboard_dir: Path = BUNDLE_DIR,
) -> Json:
    """The bootstrap as a dict (see :func:`render_envoy_config`)."""
    methods = service_methods(
        load_descriptor_bytes(descriptor), [u.proto_service for u in upstreams]
    )
    limit = body_limit(settings)
    listener = {
        "name": "gateway",
        "address": {
            "socket_address": {
                "address": settings.gateway_host,
                "port_value": settings.gateway_port,
            }
        },
        "per_connection_buffer_limit_bytes": limit,
        "filter_chains": [
            {
                "filters": [
                    {
                        "name": "envoy.filters.network.http_connection_manager",
                        "typed_config": _http_connection_manager(
                            settings, descriptor, upstreams, methods, limit, dashboard_dir
                        ),
                    }
                ]
            }
        ],
    }
    return {
        "admin": {
            "address": {
                "socket_address": {
                    "address": admin_address,
                    "port_value": settings.envoy_admin_port,
                }
            }
        },
        "static_resources": {
            "listeners": [listener],
            "clusters": [
                *(upstream_cluster(upstream, limit) for upstream in upstreams),
                otlp_cluster(settings.otlp_endpoint),
                # No endpoints: anything routed here gets 503 (see the public_api route).
                {
                    "name": UNROUTED_CLUSTER,
                    "type": "STATIC",
                    "connect_timeout": "1s",
                    "load_assignment": {"cluster_name": UNROUTED_CLUSTER},
                },
            ],
        },
        # An edge proxy without a connection cap can be exhausted by one client.
        "overload_manager": {
            "resource_monitors": [
                {
                    "name": "envoy.resource_monitors.global_downstream_max_connections",
                    "typed_config": {
                        "@type": MAX_CONNECTIONS,
                        "max_active_downstream_connections": 50000,
                    },
                }
            ]
        },
    }


def render_envoy_config(
    settings: Settings,
    *,
    descriptor: Path | bytes,
    upstreams: Sequence[Upstream],
    admin_address: str = "127.0.0.1",
    dashboard_dir: Path = BUNDLE_DIR,
) -> str:
    """Envoy bootstrap as JSON text (valid YAML too).

    ``descriptor`` as a Path is referenced by file name; as bytes it is inlined (base64) so
    the text is self-contained. ``upstreams`` are the services to route to (the registry's
    ``mesh_app.registry.upstreams``), each with its address. ``dashboard_dir`` is where
    Envoy reads the dashboard bundle (the package's own copy unless it runs elsewhere).
    """
    config = build_envoy_config(
        settings,
        descriptor=descriptor,
        upstreams=upstreams,
        admin_address=admin_address,
        dashboard_dir=dashboard_dir,
    )
    return json.dumps(config, indent=2) + "\n"
