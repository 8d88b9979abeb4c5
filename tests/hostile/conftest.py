"""Fixtures of the hostile-input tests: the whole mesh behind a real Envoy (hostile_mesh.py)
and clients for both of its doors, JSON through the gateway and native gRPC."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import httpx
import pytest

# --import-mode=importlib puts no test directory on sys.path; the helpers sit next to this file.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from hostile_mesh import HostileMesh, hostile_mesh

from mesh_runtime.settings import Settings


@pytest.fixture(scope="module")
def mesh(
    settings: Settings, postgres_server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HostileMesh]:
    scored = settings.model_copy(update={"sentiment_analyzer": "vader"})
    tmp = tmp_path_factory.mktemp("hostile")
    with hostile_mesh(scored, tmp, postgres_server_url) as running:
        yield running


@pytest.fixture(scope="module")
def http(mesh: HostileMesh) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=mesh.gateway_url, timeout=30.0) as client:
        yield client


@pytest.fixture(scope="module")
def channel(mesh: HostileMesh) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(mesh.grpc_addr) as opened:
        yield opened


@pytest.fixture(scope="session")
def bearer(token_for: Callable[..., str]) -> Callable[[str], dict[str, str]]:
    def headers(tenant: str) -> dict[str, str]:
        return {"authorization": f"Bearer {token_for(tenant=tenant)}"}

    return headers
