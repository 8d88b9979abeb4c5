"""A real Envoy in front of a real grpc.aio SentimentService: the public HTTP contract."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import grpc
import httpx
import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from gateway_helpers import EXPORT_CHUNKS, Gateway, GrpcServer, mint_token
from jwt.algorithms import RSAAlgorithm

from feedbackmesh.feedback.v1 import feedback_pb2, feedback_pb2_grpc
from feedbackmesh.sentiment.v1 import sentiment_pb2, sentiment_pb2_grpc
from gateway.dashboard import BUNDLE_DIR

ORIGIN = "http://localhost:3000"


@pytest.fixture(scope="module")
def client(gateway: Gateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, timeout=10) as http:
        yield http


def auth(token: str | None = None) -> dict[str, str]:
    return {"authorization": f"Bearer {token or mint_token()}"}


def assert_json_error(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, object] = response.json()
    # One shape for every refusal, Envoy's own and the services': google.rpc.Status as JSON.
    assert set(body) == {"code", "message", "details"}, body
    assert isinstance(body["code"], int) and 0 < body["code"] <= 16, body
    assert isinstance(body["message"], str) and isinstance(body["details"], list)
    return body


def test_analyze_prints_proto_names_and_zero_values(client: httpx.Client) -> None:
    response = client.post("/v1/sentiment:analyze", json={"text": "great"}, headers=auth())
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    # snake_case proto names, enum as its name, zero values present (score 0, empty string).
    assert response.json() == {
        "label": "SENTIMENT_LABEL_POSITIVE",
        "score": 0,
        "confidence": 0,
        "analyzer": "fake",
        "analyzer_version": "",
    }


def test_token_forwarded_and_identity_headers_stripped(
    client: httpx.Client, backend: GrpcServer
) -> None:
    token = mint_token(tenant="tenant-a")
    response = client.post(
        "/v1/sentiment:analyze",
        json={"text": "hello"},
        headers={
            **auth(token),
            "x-feedbackmesh-tenant": "tenant-b",
            "x-feedbackmesh-user": "someone-else",
            "x-jwt-payload": "forged",
            "x_feedbackmesh_tenant": "tenant-b",
        },
    )
    assert response.status_code == 200, response.text
    seen = backend.servicer.calls[-1].metadata
    assert seen["authorization"] == f"Bearer {token}"
    assert not {k for k in seen if k.replace("_", "-").startswith(("x-feedbackmesh", "x-jwt"))}


def test_missing_token_is_401_json(client: httpx.Client) -> None:
    response = client.post("/v1/sentiment:analyze", json={"text": "great"})
    body = assert_json_error(response, 401)
    assert body["code"] == 16  # UNAUTHENTICATED, as a service would say


def test_expired_token_is_401_json(client: httpx.Client) -> None:
    expired = mint_token(expires_in=-3600)  # beyond Envoy's 60 s clock skew
    response = client.post("/v1/sentiment:analyze", json={"text": "x"}, headers=auth(expired))
    assert "expired" in str(assert_json_error(response, 401)["message"]).lower()


@pytest.mark.parametrize(
    ("token", "status"),
    [
        (mint_token(secret="another-secret-that-is-long-enough-0123456789"), 401),
        (mint_token(issuer="someone-else"), 401),
        ("not-a-jwt", 401),
        # Envoy's jwt_authn answers a well-signed token for another audience with 403.
        (mint_token(audience="someone-else"), 403),
    ],
    ids=["bad-signature", "wrong-issuer", "garbage", "wrong-audience"],
)
def test_invalid_token_is_rejected_with_json(client: httpx.Client, token: str, status: int) -> None:
    response = client.post("/v1/sentiment:analyze", json={"text": "x"}, headers=auth(token))
    assert_json_error(response, status)


@pytest.mark.parametrize("path", ["/v1/nope", "/nope", "/v1/sentiment/model/extra"])
def test_unknown_path_is_404_json(client: httpx.Client, path: str) -> None:
    assert assert_json_error(client.get(path, headers=auth()), 404)["code"] == 5  # NOT_FOUND


def test_wrong_http_method_is_404_json(client: httpx.Client) -> None:
    assert_json_error(client.get("/v1/sentiment:analyze", headers=auth()), 404)


def test_bad_json_is_400_json(client: httpx.Client) -> None:
    response = client.post(
        "/v1/sentiment:analyze",
        content=b'{"text": ',
        headers={**auth(), "content-type": "application/json"},
    )
    assert_json_error(response, 400)


def test_wrong_field_type_is_400_json(client: httpx.Client) -> None:
    response = client.post("/v1/sentiment:analyze", json={"text": 5}, headers=auth())
    assert "text" in str(assert_json_error(response, 400)["message"])


def test_unknown_query_parameter_is_400_json(client: httpx.Client) -> None:
    response = client.get("/v1/sentiment/model", params={"bogus": "1"}, headers=auth())
    assert "bogus" in str(assert_json_error(response, 400)["message"])


def test_invalid_argument_is_400_with_bad_request_details(client: httpx.Client) -> None:
    response = client.post("/v1/sentiment:analyze", json={"text": "  "}, headers=auth())
    body = assert_json_error(response, 400)
    assert body["code"] == 3  # google.rpc.Status from the service: the gRPC code
    assert body["details"] == [
        {
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "field_violations": [
                {"field": "text", "description": "must not be empty", "reason": ""}
            ],
        }
    ]


def test_unimplemented_rpc_is_501_json(client: httpx.Client) -> None:
    response = client.post("/v1/sentiment:batchAnalyze", json={"texts": ["a"]}, headers=auth())
    assert assert_json_error(response, 501)["code"] == 12


def test_reads_are_retried_on_unavailable(client: httpx.Client, backend: GrpcServer) -> None:
    before = backend.servicer.model_info_calls
    response = client.get("/v1/sentiment/model", headers=auth())
    assert response.status_code == 200, response.text
    assert response.json()["max_text_chars"] == 10_000
    assert backend.servicer.model_info_calls == before + 2


def test_writes_are_not_retried_on_unavailable(client: httpx.Client, backend: GrpcServer) -> None:
    before = backend.feedback.submit_calls
    response = client.post("/v1/feedback", json={"rating": 5}, headers=auth())
    assert assert_json_error(response, 503)["code"] == 14
    assert backend.feedback.submit_calls == before + 1


def test_no_healthy_upstream_is_503_json(client: httpx.Client) -> None:
    # ingest's cluster points at a port nobody listens on.
    body = assert_json_error(client.get("/v1/ingest/status", headers=auth()), 503)
    assert body["code"] == 14  # UNAVAILABLE: the code clients retry on


def test_http_body_export_passes_through(client: httpx.Client) -> None:
    response = client.get("/v1/feedback:export", params={"format": "csv"}, headers=auth())
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content == b"".join(EXPORT_CHUNKS)


def test_bodies_above_envoys_1_mib_default_pass(client: httpx.Client, backend: GrpcServer) -> None:
    text = "a" * (9 * 1024 * 1024)
    response = client.post("/v1/sentiment:analyze", json={"text": text}, headers=auth())
    assert response.status_code == 200, response.text[:200]
    assert len(backend.servicer.calls[-1].text) == len(text)


def test_healthz_is_open(client: httpx.Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"status": "SERVING"}


def test_cors_preflight_needs_no_token(client: httpx.Client) -> None:
    response = client.options(
        "/v1/sentiment:analyze",
        headers={
            "origin": ORIGIN,
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization,content-type",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "authorization" in response.headers["access-control-allow-headers"]


def test_cors_actual_request_and_foreign_origin(client: httpx.Client) -> None:
    ok = client.post(
        "/v1/sentiment:analyze", json={"text": "a"}, headers={**auth(), "origin": ORIGIN}
    )
    assert ok.headers["access-control-allow-origin"] == ORIGIN
    foreign = client.options(
        "/v1/sentiment:analyze",
        headers={"origin": "http://evil.example", "access-control-request-method": "POST"},
    )
    # Refused clearly: 403 with a JSON reason, not the transcoder's 404.
    assert str(assert_json_error(foreign, 403)["message"]).startswith("origin not allowed")
    assert "access-control-allow-origin" not in foreign.headers


def test_dashboard_is_served_at_the_root(client: httpx.Client) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["cache-control"] == "no-cache"
    assert "connect-src 'self'" in page.headers["content-security-policy"]
    assert page.content == (BUNDLE_DIR / "index.html").read_bytes()
    script = re.search(r'src="(/assets/[^"]+\.js)"', page.text)
    assert script is not None, page.text
    asset = client.get(script.group(1), headers={"accept-encoding": "gzip"})
    assert asset.status_code == 200
    assert asset.headers["content-encoding"] == "gzip"
    assert asset.headers["content-type"].startswith("text/javascript")
    assert "immutable" in asset.headers["cache-control"]
    # httpx decodes the gzip: the bytes are the bundle's.
    assert asset.content == (BUNDLE_DIR / script.group(1).lstrip("/")).read_bytes()
    assert int(asset.headers.get("content-length", 0)) < len(asset.content)


async def test_native_grpc_through_gateway(gateway: Gateway) -> None:
    target = gateway.url.removeprefix("http://")
    metadata = (("authorization", f"Bearer {mint_token()}"),)
    async with grpc.aio.insecure_channel(target) as channel:
        sentiment = sentiment_pb2_grpc.SentimentServiceStub(channel)
        reply = await sentiment.AnalyzeSentiment(
            sentiment_pb2.AnalyzeSentimentRequest(text="hi"), metadata=metadata, timeout=5
        )
        assert reply.label == sentiment_pb2.SENTIMENT_LABEL_POSITIVE

        with pytest.raises(grpc.aio.AioRpcError) as no_token:
            await sentiment.AnalyzeSentiment(
                sentiment_pb2.AnalyzeSentimentRequest(text="hi"), timeout=5
            )
        assert no_token.value.code() == grpc.StatusCode.UNAUTHENTICATED

        # Internal RPCs have no route at the edge, whatever the token.
        feedback = feedback_pb2_grpc.FeedbackServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as internal:
            await feedback.AckOutboxEvents(
                feedback_pb2.AckOutboxEventsRequest(), metadata=metadata, timeout=5
            )
        assert internal.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_unknown_body_fields_are_dropped_not_rejected(client: httpx.Client) -> None:
    # Envoy's transcoder has no option to reject them (envoyproxy/envoy#46623); the
    # services never see them, so they cannot change anything.
    response = client.post("/v1/sentiment:analyze", json={"text": "a", "x": 1}, headers=auth())
    assert response.status_code == 200


def test_rs256_tokens_verified_with_the_jwks_file(
    gateway_factory: Callable[..., AbstractContextManager[Gateway]], tmp_path: Path
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key())) | {"kid": "k1", "alg": "RS256"}
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps({"keys": [jwk]}))
    now = int(time.time())
    claims = {"iss": "feedbackmesh", "aud": "feedbackmesh", "sub": "u", "exp": now + 60}
    rs256 = pyjwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})
    with gateway_factory(jwt_algorithm="RS256", jwks_file=jwks_file) as gw:
        ok = httpx.post(
            f"{gw.url}/v1/sentiment:analyze", json={"text": "a"}, headers=auth(rs256), timeout=5
        )
        assert ok.status_code == 200, ok.text
        hs256 = httpx.post(
            f"{gw.url}/v1/sentiment:analyze", json={"text": "a"}, headers=auth(), timeout=5
        )
        assert_json_error(hs256, 401)


def test_admin_serves_prometheus_stats(gateway: Gateway) -> None:
    response = httpx.get(f"{gateway.admin_url}/stats/prometheus", timeout=5)
    assert response.status_code == 200
    assert 'envoy_cluster_upstream_rq_total{envoy_cluster_name="sentiment_grpc"}' in response.text
