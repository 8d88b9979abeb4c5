"""What the gateway itself answers: its refusals (413, 414, 431, 401, 404, ...) in the
services' JSON error shape, and the readiness endpoint ``/readyz``.

Every error a JSON caller sees has one shape, ``{"code": <gRPC code>, "message": ...,
"details": [...]}``: the transcoder writes a service's ``google.rpc.Status`` that way
(``convert_grpc_status``), and the ``local_reply_config`` below writes Envoy's own refusals
the same way, with the gRPC code that matches their HTTP status.

Size limits, chosen so that nothing Envoy forwards can trip the services' own gRPC limits
(a request Envoy accepts must never come back as the service's RESOURCE_EXHAUSTED):

* the body: at most the gRPC message limit (:func:`gateway.config.body_limit`); above it 413;
* the URL (path and query): at most :data:`MAX_URL_BYTES`; above it 414;
* all request headers, the request line included: at most :data:`MAX_REQUEST_HEADERS_KB`
  KiB and :data:`MAX_REQUEST_HEADERS` headers; above either 431 (Envoy's codec).

Envoy forwards the headers plus the original URL again (``x-envoy-original-path``), so the
services accept :data:`mesh_runtime.channels.MAX_METADATA_BYTES` of metadata, more than
headers + URL + what Envoy adds (:data:`ENVOY_ADDED_BYTES`; tests check the sum).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Json = dict[str, Any]

_T = "type.googleapis.com/envoy."
LUA = _T + "extensions.filters.http.lua.v3.Lua"
HEALTH_CHECK = _T + "extensions.filters.http.health_check.v3.HealthCheck"

MAX_URL_BYTES = 8 * 1024
MAX_REQUEST_HEADERS_KB = 32
MAX_REQUEST_HEADERS = 100
# Headers Envoy adds on the way to a service (x-forwarded-for, x-request-id, traceparent,
# x-envoy-expected-rq-timeout-ms, ...): far below this.
ENVOY_ADDED_BYTES = 4 * 1024

READYZ_PATH = "/readyz"
READY_BODY = '{"status":"SERVING"}'
# At least one healthy host in each service's cluster (1 % of up to 100 hosts): the
# gateway can serve every public method then; the clusters route to healthy hosts only.
MIN_HEALTHY_PERCENT = 1.0

# google.rpc.Code values.
INVALID_ARGUMENT = 3
DEADLINE_EXCEEDED = 4
NOT_FOUND = 5
PERMISSION_DENIED = 7
RESOURCE_EXHAUSTED = 8
UNIMPLEMENTED = 12
INTERNAL = 13
UNAVAILABLE = 14
UNAUTHENTICATED = 16
UNKNOWN = 2

# HTTP status of an Envoy refusal -> the gRPC code a service would have used (the inverse
# of the transcoder's mapping, so a client reads both the same way). 413/414/431: the
# request itself is at fault, retrying it unchanged cannot help: INVALID_ARGUMENT, as
# Google APIs answer an oversized payload.
GRPC_CODE_OF_STATUS: dict[int, int] = {
    400: INVALID_ARGUMENT,
    401: UNAUTHENTICATED,
    403: PERMISSION_DENIED,
    404: NOT_FOUND,
    408: DEADLINE_EXCEEDED,
    413: INVALID_ARGUMENT,
    414: INVALID_ARGUMENT,
    429: RESOURCE_EXHAUSTED,
    431: INVALID_ARGUMENT,
    500: INTERNAL,
    501: UNIMPLEMENTED,
    502: UNAVAILABLE,
    503: UNAVAILABLE,
    504: DEADLINE_EXCEEDED,
}

# Envoy's codec answers 431 with only the reason phrase: say what the limit is.
HEADERS_TOO_LARGE = (
    f"request headers too large: at most {MAX_REQUEST_HEADERS_KB} KiB in all (the URL "
    f"included) and {MAX_REQUEST_HEADERS} headers"
)
NOT_READY = (
    "not ready: a service behind the gateway has no healthy instance, or the gateway is "
    "shutting down; retry later"
)


def _status(op: str, status: int) -> Json:
    key = f"feedbackmesh.local_reply.{op.lower()}_{status}"
    return {
        "status_code_filter": {
            "comparison": {"op": op, "value": {"default_value": status, "runtime_key": key}}
        }
    }


def _status_is(status: int) -> Json:
    return _status("EQ", status)


def _error_body(code: int, message: str = "%LOCAL_REPLY_BODY%") -> Json:
    return {
        "json_format": {"code": code, "message": message, "details": []},
        "content_type": "application/json",
    }


# Native gRPC callers get Envoy's grpc-status/grpc-message, never a JSON body. A JSON call
# is one whose content-type is not gRPC, or one the transcoder has rewritten into gRPC (it
# keeps the public path in x-envoy-original-path).
_JSON_CALL: Json = {
    "or_filter": {
        "filters": [
            {
                "header_filter": {
                    "header": {
                        "name": "content-type",
                        "string_match": {"prefix": "application/grpc"},
                        "invert_match": True,
                        # A request without a content-type (any GET) is not gRPC either.
                        "treat_missing_header_as_empty": True,
                    }
                }
            },
            {"header_filter": {"header": {"name": "x-envoy-original-path", "present_match": True}}},
        ]
    }
}


def _both(*filters: Json) -> Json:
    return {"and_filter": {"filters": list(filters)}}


def local_reply_config() -> Json:
    """One mapper per status Envoy answers itself (first match wins); any other error gets
    UNKNOWN. Success replies (``/healthz``, the dashboard, ``/readyz`` when ready) keep
    their own bodies, except that ``/readyz`` gets one (the health-check filter has none)."""
    readyz: Json = {
        "header_filter": {"header": {"name": ":path", "string_match": {"exact": READYZ_PATH}}}
    }
    mappers: list[Json] = [
        {
            "filter": _both(readyz, _status_is(200)),
            "body_format_override": {
                "text_format_source": {"inline_string": READY_BODY},
                "content_type": "application/json",
            },
        },
        {
            "filter": _both(readyz, _status_is(503)),
            "body_format_override": _error_body(UNAVAILABLE, NOT_READY),
        },
        {
            "filter": _both(_JSON_CALL, _status_is(431)),
            "body_format_override": _error_body(INVALID_ARGUMENT, HEADERS_TOO_LARGE),
        },
    ]
    mappers += [
        {"filter": _both(_JSON_CALL, _status_is(status)), "body_format_override": _error_body(code)}
        for status, code in GRPC_CODE_OF_STATUS.items()
        if status != 431
    ]
    mappers.append(
        {
            "filter": _both(_JSON_CALL, _status("GE", 400)),
            "body_format_override": _error_body(UNKNOWN),
        }
    )
    return {"mappers": mappers}


def size_limits_filter(body_limit: int) -> Json:
    """413 for a declared body over ``body_limit`` and 414 for a URL over MAX_URL_BYTES,
    before anything reads the body or checks the token. A chunked body without a length
    is still capped: by the transcoder and the service's gRPC limit."""
    source = f"""
function envoy_on_request(handle)
  local headers = handle:headers()
  local path = headers:get(":path")
  if path ~= nil and #path > {MAX_URL_BYTES} then
    handle:respond({{[":status"] = "414"}},
      "request URL too long: at most {MAX_URL_BYTES} bytes of path and query")
    return
  end
  local length = tonumber(headers:get("content-length") or "")
  if length ~= nil and length > {body_limit} then
    handle:respond({{[":status"] = "413"}},
      "request body too large: at most {body_limit} bytes")
  end
end
"""
    return {
        "name": "envoy.filters.http.lua",
        "typed_config": {"@type": LUA, "default_source_code": {"inline_string": source}},
    }


def readiness_filter(clusters: Sequence[str]) -> Json:
    """``GET /readyz``: 200 while every service cluster has a host passing its gRPC health
    check, else 503 (and 503 while draining: ``/healthcheck/fail``). Answered by Envoy from
    its health-check state, so it costs the services nothing however often it is probed."""
    return {
        "name": "envoy.filters.http.health_check",
        "typed_config": {
            "@type": HEALTH_CHECK,
            "pass_through_mode": False,
            "headers": [{"name": ":path", "string_match": {"exact": READYZ_PATH}}],
            "cluster_min_healthy_percentages": {
                name: {"value": MIN_HEALTHY_PERCENT} for name in clusters
            },
        },
    }
