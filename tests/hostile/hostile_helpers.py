"""Helpers of the hostile-input tests: error shapes of both doors, raw gRPC calls, counts."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import grpc
import httpx
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from mesh_runtime.auth import bearer_metadata

BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"
RETRY_INFO_TYPE = "type.googleapis.com/google.rpc.RetryInfo"


def tenant(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def http_violations(reply: httpx.Response) -> list[str]:
    """The fields of a 400's BadRequest detail (the gateway's JSON error shape)."""
    assert reply.status_code == 400, (reply.status_code, reply.text[:300])
    body = reply.json()
    assert body["code"] == grpc.StatusCode.INVALID_ARGUMENT.value[0], body
    fields = [
        violation["field"]
        for detail in body.get("details", [])
        if detail.get("@type") == BAD_REQUEST_TYPE
        for violation in detail.get("field_violations", [])
    ]
    assert fields, f"no field violation in {body}"
    return fields


def grpc_violations(error: grpc.RpcError) -> list[str]:
    """The fields of an INVALID_ARGUMENT's BadRequest detail."""
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (error.code(), error.details())
    status = rpc_status.from_call(error)
    assert status is not None, "no google.rpc.Status in the trailers"
    fields = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            fields += [v.field for v in bad.field_violations]
    assert fields, f"no field violation in {status}"
    return fields


def raw_call(
    channel: grpc.Channel, method: str, body: bytes, token: str, timeout: float = 30.0
) -> bytes:
    """Calls ``method`` with ``body`` as the wire bytes of the request, as any client can."""
    call: Callable[..., bytes] = channel.unary_unary(
        method, request_serializer=lambda b: b, response_deserializer=lambda b: b
    )
    return call(body, metadata=bearer_metadata(token), timeout=timeout)


def nested(depth: int, leaf: Any = "leaf") -> Any:
    """A JSON object ``depth`` objects deep."""
    value = leaf
    for _ in range(depth):
        value = {"k": value}
    return value
