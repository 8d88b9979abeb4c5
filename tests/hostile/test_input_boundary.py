"""Regression tests of issue H's input findings: each refusal is INVALID_ARGUMENT with a
field violation through both doors, and nothing accepted breaks a later read."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import grpc
import httpx
import pytest
from google.protobuf import json_format
from hostile_helpers import (
    grpc_violations,
    http_violations,
    nested,
    raw_call,
    tenant,
)
from hostile_mesh import HostileMesh

from feedbackmesh.feedback.v1 import feedback_pb2, feedback_pb2_grpc
from mesh_runtime.auth import bearer_metadata

SUBMIT = "/feedbackmesh.feedback.v1.FeedbackService/SubmitFeedback"
Headers = Callable[[str], dict[str, str]]


def body(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "request_id": "r-1",
        "feedback_type": "FEEDBACK_TYPE_GENERAL",
        "rating": 4,
    }
    return base | fields


def test_metadata_too_deep_for_the_gateway_is_refused_and_lists_stay_readable(
    mesh: HostileMesh, http: httpx.Client, bearer: Headers
) -> None:
    """Depth 33 was stored and then made every list page 502; deeper gave 500 with a
    DecodeError text; the service's bound is now well inside Envoy's."""
    who = tenant("deep")
    headers = bearer(who)
    assert http.post("/v1/feedback", headers=headers, json=body(request_id="ok")).status_code == 200
    for depth in (17, 20, 33, 40, 60):
        deep = body(request_id=f"d{depth}", metadata=nested(depth))
        reply = http.post("/v1/feedback", headers=headers, json=deep)
        assert http_violations(reply) == ["metadata"], depth
        assert "DecodeError" not in reply.text
        listed = http.get("/v1/feedback", headers=headers)
        assert listed.status_code == 200, (depth, listed.text[:200])
        assert [f["request_id"] for f in listed.json()["feedback"]] == ["ok"]
    deep_enough = http.post(
        "/v1/feedback", headers=headers, json=body(request_id="d16", metadata=nested(16))
    )
    assert deep_enough.status_code == 200, deep_enough.text[:200]
    assert http.get("/v1/feedback", headers=headers).status_code == 200
    assert mesh.feedback_count(who) == 2


def test_metadata_arrays_count_as_depth(http: httpx.Client, bearer: Headers) -> None:
    deep_list: Any = "x"
    for _ in range(20):
        deep_list = [deep_list]
    reply = http.post(
        "/v1/feedback", headers=bearer(tenant("arr")), json=body(metadata={"a": deep_list})
    )
    assert http_violations(reply) == ["metadata"]


def test_metadata_key_count_and_key_size_are_bounded(http: httpx.Client, bearer: Headers) -> None:
    headers = bearer(tenant("keys"))
    many = {f"k{i}": i for i in range(300)}
    reply = http.post("/v1/feedback", headers=headers, json=body(metadata=many))
    assert http_violations(reply) == ["metadata"]
    long_key = {"k" * 300: 1}
    reply = http.post("/v1/feedback", headers=headers, json=body(metadata=long_key))
    assert http_violations(reply) == ["metadata"]


@pytest.mark.parametrize(
    ("fields", "violation"),
    [
        ({"request_id": "a\u0000b"}, "request_id"),
        ({"comment": "bad\u0000comment"}, "comment"),
        ({"tags": ["ok", "t\u0000g"]}, "tags[1]"),
        ({"metadata": {"k\u0000": "v"}}, "metadata"),
        ({"metadata": {"k": "v\u0000"}}, "metadata"),
        ({"metadata": {"k": [{"x": "\u0000"}]}}, "metadata"),
        (
            {"feedback_type": "FEEDBACK_TYPE_CHAT", "chat_session_id": "c\u0000"},
            "chat_session_id",
        ),
    ],
)
def test_nul_characters_are_refused_not_500(
    mesh: HostileMesh,
    http: httpx.Client,
    channel: grpc.Channel,
    bearer: Headers,
    token_for: Callable[..., str],
    fields: dict[str, Any],
    violation: str,
) -> None:
    who = tenant("nul")
    reply = http.post("/v1/feedback", headers=bearer(who), json=body(**fields))
    assert http_violations(reply) == [violation]
    request = feedback_pb2.SubmitFeedbackRequest()
    json_format.ParseDict(body(**fields), request)
    stub = feedback_pb2_grpc.FeedbackServiceStub(channel)
    with pytest.raises(grpc.RpcError) as caught:
        stub.SubmitFeedback(request, metadata=bearer_metadata(token_for(tenant=who)))
    assert grpc_violations(caught.value) == [violation]
    assert mesh.feedback_count(who) == 0


def test_one_bad_item_gets_its_own_error_and_the_batch_goes_on(
    mesh: HostileMesh, http: httpx.Client, bearer: Headers
) -> None:
    who = tenant("batch")
    items = [
        body(request_id="good-1"),
        body(request_id="bad\u0000id"),
        body(request_id="deep", metadata=nested(20)),
        body(request_id="good-2", comment="fine"),
    ]
    reply = http.post("/v1/feedback:batchSubmit", headers=bearer(who), json={"requests": items})
    assert reply.status_code == 200, reply.text[:300]
    results = reply.json()["results"]
    assert [r["status"] for r in results] == [
        "BATCH_ITEM_STATUS_CREATED",
        "BATCH_ITEM_STATUS_INVALID",
        "BATCH_ITEM_STATUS_INVALID",
        "BATCH_ITEM_STATUS_CREATED",
    ]
    assert [v["field"] for v in results[1]["field_violations"]] == ["request_id"]
    assert [v["field"] for v in results[2]["field_violations"]] == ["metadata"]
    assert mesh.feedback_count(who) == 2


def test_a_batch_that_does_not_decode_names_the_item_and_writes_nothing(
    mesh: HostileMesh, http: httpx.Client, bearer: Headers
) -> None:
    """Nested beyond protobuf's own decoding limit, a batch cannot be split into items:
    refused as a whole (was 500 with the parser's text), naming the item."""
    who = tenant("undecodable")
    items = [body(request_id="good"), body(request_id="deep", metadata=nested(40))]
    reply = http.post("/v1/feedback:batchSubmit", headers=bearer(who), json={"requests": items})
    assert http_violations(reply) == ["requests[1].metadata"]
    assert "DecodeError" not in reply.text
    assert mesh.feedback_count(who) == 0


@pytest.mark.parametrize(
    "query",
    [
        {"chat_session_id": "c\u0000"},
        {"tag": "t\u0000"},
        {"user_id": "u\u0000"},
    ],
)
@pytest.mark.parametrize("path", ["/v1/feedback", "/v1/feedback:export"])
def test_filters_are_checked_like_bodies(
    http: httpx.Client, bearer: Headers, path: str, query: dict[str, str]
) -> None:
    reply = http.get(path, headers=bearer(tenant("flt")), params=query)
    assert http_violations(reply) == list(query)


def _token(payload: Any) -> str:
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "page_token",
    [
        _token([2**70, 1]),
        _token([1, 2**70]),
        _token([1_700_000_000_000_000, 5]),  # well-formed, but not one the service issued
        "not a token",
        "A" * 5000,
    ],
)
def test_page_tokens_are_validated_and_tamper_evident(
    http: httpx.Client, bearer: Headers, page_token: str
) -> None:
    params = {"page_token": page_token}
    reply = http.get("/v1/feedback", headers=bearer(tenant("tok")), params=params)
    assert http_violations(reply) == ["page_token"]


def test_issued_page_tokens_still_page(http: httpx.Client, bearer: Headers) -> None:
    headers = bearer(tenant("pages"))
    for index in range(3):
        created = http.post("/v1/feedback", headers=headers, json=body(request_id=f"p{index}"))
        assert created.status_code == 200
    seen: list[str] = []
    token = ""
    while True:
        params = {"page_size": "1"} | ({"page_token": token} if token else {})
        page = http.get("/v1/feedback", headers=headers, params=params)
        assert page.status_code == 200, page.text[:200]
        seen += [f["request_id"] for f in page.json()["feedback"]]
        token = page.json()["next_page_token"]
        if not token:
            break
    assert seen == ["p2", "p1", "p0"]
    # Another tenant cannot replay it.
    replayed = {"page_token": _first_token(http, headers)}
    other = http.get("/v1/feedback", headers=bearer(tenant("other")), params=replayed)
    assert http_violations(other) == ["page_token"]


def _first_token(http: httpx.Client, headers: dict[str, str]) -> str:
    token: str = http.get("/v1/feedback", headers=headers, params={"page_size": "1"}).json()[
        "next_page_token"
    ]
    assert token
    return token


def test_invalid_utf8_over_grpc_is_invalid_argument(
    mesh: HostileMesh, channel: grpc.Channel, token_for: Callable[..., str]
) -> None:
    """A string field with bytes that are not UTF-8 failed to deserialize: UNKNOWN/500."""
    who = tenant("utf8")
    wire = feedback_pb2.SubmitFeedbackRequest(
        request_id="r-utf8", feedback_type=feedback_pb2.FEEDBACK_TYPE_GENERAL, rating=3
    ).SerializeToString()
    wire += b"\x3a\x02\xff\xfe"  # field 7 (comment), 2 bytes, not UTF-8
    with pytest.raises(grpc.RpcError) as caught:
        raw_call(channel, SUBMIT, wire, token_for(tenant=who))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert grpc_violations(caught.value)
    assert mesh.feedback_count(who) == 0


@pytest.mark.parametrize("seconds", [2**40, -(2**40), 253402300800])
def test_timestamps_out_of_range_over_grpc_are_invalid_argument(
    channel: grpc.Channel, token_for: Callable[..., str], seconds: int
) -> None:
    stub = feedback_pb2_grpc.FeedbackServiceStub(channel)
    request = feedback_pb2.ListFeedbackRequest()
    request.start_time.seconds = seconds
    with pytest.raises(grpc.RpcError) as caught:
        stub.ListFeedback(request, metadata=bearer_metadata(token_for()))
    assert grpc_violations(caught.value) == ["start_time"]
