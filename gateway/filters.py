"""The HTTP filters and listener-level pieces of the gateway's Envoy config.

Kept apart from :mod:`gateway.config` (bootstrap, clusters, routes) so each stays short.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gateway.clusters import OTLP_CLUSTER
from gateway.jwks import jwks_for
from mesh_runtime.settings import Settings

Json = dict[str, Any]

_T = "type.googleapis.com/envoy."
CORS = _T + "extensions.filters.http.cors.v3.Cors"
CORS_POLICY = _T + "extensions.filters.http.cors.v3.CorsPolicy"
JWT_AUTHN = _T + "extensions.filters.http.jwt_authn.v3.JwtAuthentication"
TRANSCODER = _T + "extensions.filters.http.grpc_json_transcoder.v3.GrpcJsonTranscoder"
ROUTER = _T + "extensions.filters.http.router.v3.Router"
STDOUT_LOG = _T + "extensions.access_loggers.stream.v3.StdoutAccessLog"
OTEL_TRACER = _T + "config.trace.v3.OpenTelemetryConfig"

JWT_PROVIDER = "feedbackmesh"


def cors_policy(origins: list[str]) -> Json:
    if "*" in origins:
        matchers: list[Json] = [{"safe_regex": {"regex": ".*"}}]
    else:
        matchers = [{"exact": origin} for origin in origins]
    return {
        "@type": CORS_POLICY,
        "allow_origin_string_match": matchers,
        "allow_methods": "GET, POST, PUT, PATCH, DELETE, OPTIONS",
        "allow_headers": "authorization, content-type, x-request-id, idempotency-key",
        "expose_headers": "content-disposition, x-request-id, grpc-status, grpc-message",
        "max_age": "600",
    }


def cors_refusal_routes(origins: list[str], per_filter_config: Json) -> list[Json]:
    """A 403 for a preflight from an origin not in ``origins``.

    The CORS filter answers allowed preflights itself and lets the others through (its
    default ``forward_not_matching_preflights``), where the transcoder used to answer them
    with a misleading 404. This route catches exactly those: OPTIONS with an Origin that
    does not match and an Access-Control-Request-Method. Being a direct response, the CORS
    filter adds no allow-origin header to it.
    """
    if "*" in origins:
        return []
    allowed = "|".join(re.escape(origin) for origin in origins) or "(?!)"
    return [
        {
            "name": "cors_refused",
            "match": {
                "prefix": "/",
                "headers": [
                    {"name": ":method", "string_match": {"exact": "OPTIONS"}},
                    {"name": "access-control-request-method", "present_match": True},
                    {"name": "origin", "present_match": True},
                    {
                        "name": "origin",
                        "string_match": {"safe_regex": {"regex": f"^(?:{allowed})$"}},
                        "invert_match": True,
                    },
                ],
            },
            "direct_response": {
                "status": 403,
                "body": {"inline_string": "origin not allowed (FEEDBACKMESH_CORS_ALLOWED_ORIGINS)"},
            },
            "typed_per_filter_config": per_filter_config,
        }
    ]


def jwt_authn(settings: Settings) -> Json:
    requires = {"provider_name": JWT_PROVIDER}
    return {
        "@type": JWT_AUTHN,
        "providers": {
            JWT_PROVIDER: {
                "issuer": settings.jwt_issuer,
                "audiences": [settings.jwt_audience],
                "local_jwks": {"inline_string": jwks_for(settings)},
                # Only the Authorization header: the default also accepts ?access_token=,
                # which would leak tokens into logs.
                "from_headers": [{"name": "authorization", "value_prefix": "Bearer "}],
                # Keep the header: the services verify the token themselves.
                "forward": True,
            }
        },
        "rules": [
            {"match": {"path": "/healthz"}},
            # /v1/ is the public surface; /feedbackmesh. is native gRPC through the gateway,
            # which must not be a way around the check.
            {"match": {"prefix": "/v1/"}, "requires": requires},
            {"match": {"prefix": "/feedbackmesh."}, "requires": requires},
        ],
        # Browsers send preflights without credentials.
        "bypass_cors_preflight": True,
    }


def transcoder(descriptor: Path | bytes, limit: int, services: Sequence[str]) -> Json:
    config: Json = {"@type": TRANSCODER}
    if isinstance(descriptor, bytes):
        config["proto_descriptor_bin"] = base64.b64encode(descriptor).decode("ascii")
    else:
        config["proto_descriptor"] = str(descriptor.resolve())
    config |= {
        "services": list(services),
        "print_options": {
            "add_whitespace": False,
            "always_print_primitive_fields": True,
            "always_print_enums_as_ints": False,
            "preserve_proto_field_names": True,
            # Server-streaming JSON methods (WatchAnalytics) become server-sent events:
            # one `data: {json}\n\n` frame per message, content type text/event-stream.
            # HttpBody streams (exports) pass through as raw bytes either way.
            "stream_sse_style_delimited": True,
        },
        "convert_grpc_status": True,
        "ignore_unknown_query_parameters": False,
        "request_validation_options": {
            "reject_unknown_method": True,
            "reject_unknown_query_parameters": True,
            "reject_binding_body_field_collisions": True,
        },
        "max_request_body_size": limit,
        "max_response_body_size": limit,
    }
    return config


def access_log() -> list[Json]:
    fields = {
        "time": "%START_TIME%",
        "method": "%REQ(:METHOD)%",
        "path": "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%",
        "grpc_path": "%REQ(:PATH)%",
        "status": "%RESPONSE_CODE%",
        "grpc_status": "%GRPC_STATUS%",
        "details": "%RESPONSE_CODE_DETAILS%",
        "duration_ms": "%DURATION%",
        "upstream": "%UPSTREAM_HOST%",
        "request_id": "%REQ(X-REQUEST-ID)%",
        "trace_id": "%TRACE_ID%",
    }
    return [
        {
            "name": "envoy.access_loggers.stdout",
            "typed_config": {"@type": STDOUT_LOG, "log_format": {"json_format": fields}},
        }
    ]


def tracing(settings: Settings) -> Json:
    """W3C trace context (the OpenTelemetry tracer): Envoy continues a caller's
    ``traceparent`` or starts a trace, and passes it to the services. Spans are exported to
    the ``otlp_collector`` cluster only with FEEDBACKMESH_OTLP_ENDPOINT; without it nothing
    is sampled (trace ids still reach the services and the access log)."""
    exporting = settings.otlp_endpoint is not None
    config: Json = {
        "@type": OTEL_TRACER,
        "service_name": "feedbackmesh-gateway",
        "grpc_service": {
            "envoy_grpc": {"cluster_name": OTLP_CLUSTER},
            "timeout": f"{settings.otlp_timeout_seconds:g}s",
        },
    }
    return {
        "provider": {"name": "envoy.tracers.opentelemetry", "typed_config": config},
        "random_sampling": {"value": settings.otlp_sample_ratio * 100 if exporting else 0},
        "client_sampling": {"value": 100 if exporting else 0},
        "overall_sampling": {"value": 100 if exporting else 0},
    }
