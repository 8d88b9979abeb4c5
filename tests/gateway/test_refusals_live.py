"""Envoy's own refusals through a real Envoy: the right HTTP status (413, 414, 431) and the
services' JSON error shape; ``/readyz`` following the upstreams' gRPC health."""

from __future__ import annotations

import http.client
import socket
import subprocess
import urllib.parse
from collections.abc import Callable, Iterator
from concurrent import futures
from contextlib import AbstractContextManager, contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
import yaml
from gateway_helpers import FEEDBACK_SERVICE, Gateway, cluster_healthy, mint_token, wait_for
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from gateway import refusals
from gateway.config import body_limit
from mesh_runtime.net import free_port
from mesh_runtime.settings import Settings

INVALID_ARGUMENT = grpc.StatusCode.INVALID_ARGUMENT.value[0]
UNAVAILABLE = grpc.StatusCode.UNAVAILABLE.value[0]


def auth() -> dict[str, str]:
    return {"authorization": f"Bearer {mint_token()}"}


def error_shape(status: int, content_type: str, body: Any) -> dict[str, Any]:
    """The services' shape over JSON: {"code": <gRPC code>, "message", "details"}."""
    assert content_type.startswith("application/json"), (status, content_type, body)
    assert isinstance(body, dict) and set(body) == {"code", "message", "details"}, body
    assert isinstance(body["code"], int) and isinstance(body["message"], str)
    assert body["details"] == []
    # No header names or Envoy internals leak into what a caller reads.
    assert "x-envoy" not in body["message"] and "authorization" not in body["message"]
    return body


def raw_get(gw: Gateway, target: str, headers: dict[str, str]) -> tuple[int, str, Any]:
    """A GET httpx would refuse to send (it caps URLs at 64 KiB)."""
    url = urllib.parse.urlparse(gw.url)
    assert url.hostname is not None
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        connection.request("GET", target, headers=headers)
        reply = connection.getresponse()
        return (
            reply.status,
            reply.getheader("content-type", ""),
            httpx.Response(reply.status, content=reply.read()).json(),
        )
    finally:
        connection.close()


def test_body_over_the_limit_is_413_before_the_token_check(gateway: Gateway) -> None:
    """16 MiB + 1 declared: refused from the headers, before a byte of body is read (a
    service would have answered RESOURCE_EXHAUSTED/429 once the transcoder had sent it)."""
    limit = body_limit(Settings())
    url = urllib.parse.urlparse(gateway.url)
    assert url.hostname is not None and url.port is not None
    for headers in (auth(), {}):
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
            sock.sendall(
                f"POST /v1/sentiment:analyze HTTP/1.1\r\nhost: gw\r\n{head}"
                f"content-type: application/json\r\ncontent-length: {limit + 1}\r\n\r\n".encode()
                + b'{"text": "'
                + b"a" * 65536
            )
            raw = b""
            while b"\r\n\r\n" not in raw or not raw.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                raw += chunk
        head_text, _, payload = raw.partition(b"\r\n\r\n")
        status_line, *lines = head_text.decode().split("\r\n")
        assert status_line.startswith("HTTP/1.1 413"), raw[:300]
        fields = dict(line.split(": ", 1) for line in lines)
        body = error_shape(413, fields["content-type"], httpx.Response(413, content=payload).json())
        assert body["code"] == INVALID_ARGUMENT
        assert str(limit) in body["message"]


def test_body_at_the_limit_boundary_is_not_refused_by_envoy(gateway: Gateway) -> None:
    # A JSON body just below the limit passes Envoy; the fake scores it.
    text = "a" * (body_limit(Settings()) - 64)
    reply = httpx.post(
        f"{gateway.url}/v1/sentiment:analyze", json={"text": text}, headers=auth(), timeout=30
    )
    assert reply.status_code == 200, reply.text[:200]


def test_huge_header_is_431(gateway: Gateway) -> None:
    status, content_type, body = raw_get(
        gateway, "/v1/sentiment/model", {**auth(), "x-padding": "a" * (40 * 1024)}
    )
    assert status == 431
    assert error_shape(status, content_type, body)["code"] == INVALID_ARGUMENT
    assert f"{refusals.MAX_REQUEST_HEADERS_KB} KiB" in body["message"]


def test_too_many_headers_is_431(gateway: Gateway) -> None:
    many = {f"x-h{i}": "1" for i in range(refusals.MAX_REQUEST_HEADERS + 1)}
    status, content_type, body = raw_get(gateway, "/v1/sentiment/model", {**auth(), **many})
    assert status == 431
    error_shape(status, content_type, body)


@pytest.mark.parametrize("with_token", [True, False], ids=["token", "no-token"])
def test_long_url_is_414(gateway: Gateway, with_token: bool) -> None:
    target = "/v1/feedback?page_token=" + "a" * refusals.MAX_URL_BYTES
    status, content_type, body = raw_get(gateway, target, auth() if with_token else {})
    assert status == 414
    assert error_shape(status, content_type, body)["code"] == INVALID_ARGUMENT
    assert str(refusals.MAX_URL_BYTES) in body["message"]


def test_url_beyond_the_header_limit_is_431(gateway: Gateway) -> None:
    target = "/v1/feedback?page_token=" + "a" * (refusals.MAX_REQUEST_HEADERS_KB * 1024)
    status, content_type, body = raw_get(gateway, target, auth())
    assert status == 431
    error_shape(status, content_type, body)


def test_what_envoy_accepts_fits_the_services_metadata_limit(gateway: Gateway) -> None:
    """A URL just under the limit plus most of the header budget reaches the service (which
    answers this method UNIMPLEMENTED): gRPC's default 8 KiB metadata limit used to refuse it
    RESOURCE_EXHAUSTED (429) on some tries, listing the forwarded header names."""
    target = "/v1/feedback?page_token=" + "a" * (refusals.MAX_URL_BYTES - 200)
    padding = {"x-padding": "a" * ((refusals.MAX_REQUEST_HEADERS_KB - 12) * 1024)}
    for _ in range(5):
        status, _, body = raw_get(gateway, target, {**auth(), **padding})
        assert status == 501, body
        assert body["code"] == grpc.StatusCode.UNIMPLEMENTED.value[0]


# --- /readyz ---------------------------------------------------------------------------------


@contextmanager
def health_server(port: int, service: str) -> Iterator[grpc.Server]:
    """A process-local gRPC server answering only grpc.health.v1 for ``service``."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    servicer = health.HealthServicer()
    servicer.set(service, health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    assert server.add_insecure_port(f"127.0.0.1:{port}") == port
    server.start()
    try:
        yield server
    finally:
        server.stop(grace=None)


def readyz(gw: Gateway) -> httpx.Response:
    return httpx.get(f"{gw.url}/readyz", timeout=5)


COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


def compose_probe_passes(gw: Gateway) -> bool:
    """docker-compose.yml's health check of Envoy, run as written against ``gw``."""
    test = yaml.safe_load(COMPOSE.read_text())["services"]["envoy"]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "bash", "-c"]
    port = str(urllib.parse.urlparse(gw.url).port)
    script = test[3].replace("/dev/tcp/127.0.0.1/8080", f"/dev/tcp/127.0.0.1/{port}")
    return subprocess.run(["bash", "-c", script], timeout=10, check=False).returncode == 0


def test_readyz_follows_the_upstreams_health(
    gateway_factory: Callable[..., AbstractContextManager[Gateway]],
    backend: Any,
) -> None:
    feedback_port = free_port()
    everything_up = {
        "ingest": f"127.0.0.1:{backend.port}",
        "analytics": f"127.0.0.1:{backend.port}",
        "feedback": f"127.0.0.1:{feedback_port}",
    }
    with (
        health_server(feedback_port, FEEDBACK_SERVICE) as feedback,
        gateway_factory(addresses=everything_up) as gw,
    ):
        ready = readyz(gw)
        assert ready.status_code == 200, ready.text
        assert ready.headers["content-type"] == "application/json"
        assert ready.json() == {"status": "SERVING"}
        assert compose_probe_passes(gw)

        feedback.stop(grace=None)  # the feedback service is down
        wait_for(lambda: not cluster_healthy(gw.admin_url, "feedback_grpc"), 15, "feedback down")
        down = readyz(gw)
        assert down.status_code == 503
        body = error_shape(503, down.headers["content-type"], down.json())
        assert body["code"] == UNAVAILABLE
        assert not compose_probe_passes(gw)
        # Liveness is not readiness: Envoy itself is fine.
        live = httpx.get(f"{gw.url}/healthz", timeout=5)
        assert (live.status_code, live.json()) == (200, {"status": "SERVING"})

        with health_server(feedback_port, FEEDBACK_SERVICE):  # back
            wait_for(partial(cluster_healthy, gw.admin_url, "feedback_grpc"), 15, "feedback up")
            assert readyz(gw).status_code == 200


def test_readyz_is_503_while_draining(
    gateway_factory: Callable[..., AbstractContextManager[Gateway]], backend: Any
) -> None:
    addresses = {name: f"127.0.0.1:{backend.port}" for name in ("ingest", "analytics")}
    with gateway_factory(addresses=addresses) as gw:
        assert readyz(gw).status_code == 200
        # What the drain hook (deploy/k8s/base/envoy/drain.sh) does first.
        assert httpx.post(f"{gw.admin_url}/healthcheck/fail", timeout=5).status_code == 200
        draining = readyz(gw)
        assert draining.status_code == 503
        assert error_shape(503, draining.headers["content-type"], draining.json())["code"] == 14


def test_readyz_is_503_with_a_dead_upstream(gateway: Gateway) -> None:
    # The module's gateway: ingest and analytics point at a port nobody listens on.
    down = readyz(gateway)
    assert down.status_code == 503
    assert error_shape(503, down.headers["content-type"], down.json())["code"] == UNAVAILABLE
