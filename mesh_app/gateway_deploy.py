"""The Envoy config of the compose and Kubernetes gateways.

It is rendered where it runs: an init step of the feedbackmesh image (``feedbackmesh
gateway-config --target compose|k8s``, a compose one-shot service or a Kubernetes init
container) writes it, with a copy of the dashboard, into a directory Envoy mounts — so the
deployment's ``FEEDBACKMESH_CORS_ALLOWED_ORIGINS`` takes effect, and the page matches the
services' version. ``scripts/render_deploy.py`` commits the rendering with the default
settings for review and the deploy tests.

Apart from the CORS origins the settings are fixed (never the caller's environment), the
descriptor set is inlined, and there are two deploy-specific changes:

* **No key material in the config.** The gateway inlines its JWKS (for HS256 that *is* the
  signing secret); here ``local_jwks`` points at a file mounted from a compose secret or a
  Kubernetes Secret instead (:data:`JWKS_PATH`).
* **A read-only stats listener.** The admin interface stays on 127.0.0.1:9901 (it can
  stop Envoy and change its runtime); a second listener on 0.0.0.0:9902 proxies only
  ``GET /stats/prometheus`` and ``GET /ready`` to it, for Prometheus and the kubelet.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from gateway import DEFAULT_DESCRIPTOR
from gateway.config import HCM, build_envoy_config
from gateway.dashboard import BUNDLE_DIR, bundle_files
from gateway.filters import ROUTER
from mesh_app import registry
from mesh_runtime.settings import Settings

Json = dict[str, Any]

#: Where Envoy reads its JWKS in both compose and Kubernetes (a mounted secret).
JWKS_PATH = "/run/secrets/feedbackmesh/jwks.json"
ADMIN_ADDRESS = "127.0.0.1"
STATS_PORT = 9902
STATS_PATHS = ("/stats/prometheus", "/ready")
ADMIN_CLUSTER = "envoy_admin"
#: The directory both the init step (writes) and Envoy (reads) mount, in both deployments.
GATEWAY_DIR = Path("/srv/feedbackmesh/gateway")
CONFIG_PATH = GATEWAY_DIR / "envoy.yaml"
DASHBOARD_DIR = GATEWAY_DIR / "dashboard"

#: Settings the rendered configs depend on. Everything else keeps its default; the JWT
#: secret given here only fills the inline JWKS that is then replaced by JWKS_PATH.
DEPLOY_SETTINGS: dict[str, Any] = {
    "gateway_host": "0.0.0.0",
    "gateway_port": 8080,
    "envoy_admin_port": 9901,
    "jwt_algorithm": "HS256",
    "jwt_secret": "placeholder-replaced-by-the-mounted-jwks-file-0123456789",
    "jwt_issuer": "feedbackmesh",
    "jwt_audience": "feedbackmesh",
}


@dataclass(frozen=True)
class Target:
    name: str
    # Host name of a service in this deployment, from its registry name.
    host_suffix: str

    @property
    def peers(self) -> dict[str, str]:
        return {s.name: f"{s.name}{self.host_suffix}:{s.grpc_port}" for s in registry.SERVICES}


TARGETS: tuple[Target, ...] = (
    # Compose service names; Docker's DNS returns every replica of a scaled service.
    Target("compose", ""),
    # Headless Services (one A record per ready pod): Envoy's STRICT_DNS clusters then
    # balance requests over pods. Short names, so the base works in any namespace.
    Target("k8s", "-headless"),
)


class _DeploySettings(Settings):
    """Settings from init arguments only: the shell's FEEDBACKMESH_* must not leak in."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def deploy_settings(cors_allowed_origins: list[str] | None = None) -> Settings:
    """The fixed deploy settings; the CORS origins are the deployment's own (or the default)."""
    if cors_allowed_origins is None:
        return _DeploySettings(**DEPLOY_SETTINGS)
    return _DeploySettings(**DEPLOY_SETTINGS, cors_allowed_origins=cors_allowed_origins)


def _stats_listener(admin_port: int) -> Json:
    routes: list[Json] = [
        {
            "name": path.strip("/").replace("/", "_"),
            "match": {
                "path": path,
                "headers": [{"name": ":method", "string_match": {"exact": "GET"}}],
            },
            "route": {"cluster": ADMIN_CLUSTER, "timeout": "10s"},
        }
        for path in STATS_PATHS
    ]
    routes.append(
        {
            "name": "not_found",
            "match": {"prefix": "/"},
            "direct_response": {"status": 404, "body": {"inline_string": "not found"}},
        }
    )
    return {
        "name": "stats",
        "address": {"socket_address": {"address": "0.0.0.0", "port_value": STATS_PORT}},
        "filter_chains": [
            {
                "filters": [
                    {
                        "name": "envoy.filters.network.http_connection_manager",
                        "typed_config": {
                            "@type": HCM,
                            "stat_prefix": "stats",
                            "codec_type": "AUTO",
                            "route_config": {
                                "name": "stats",
                                "virtual_hosts": [
                                    {"name": "stats", "domains": ["*"], "routes": routes}
                                ],
                            },
                            "http_filters": [
                                {
                                    "name": "envoy.filters.http.router",
                                    "typed_config": {"@type": ROUTER},
                                }
                            ],
                        },
                    }
                ]
            }
        ],
    }


def _admin_cluster(admin_port: int) -> Json:
    return {
        "name": ADMIN_CLUSTER,
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": ADMIN_CLUSTER,
            "endpoints": [
                {
                    "lb_endpoints": [
                        {
                            "endpoint": {
                                "address": {
                                    "socket_address": {
                                        "address": ADMIN_ADDRESS,
                                        "port_value": admin_port,
                                    }
                                }
                            }
                        }
                    ]
                }
            ],
        },
    }


def _jwt_providers(config: Json) -> list[Json]:
    providers: list[Json] = []
    for listener in config["static_resources"]["listeners"]:
        for chain in listener["filter_chains"]:
            for network_filter in chain["filters"]:
                for http_filter in network_filter["typed_config"].get("http_filters", []):
                    if http_filter["name"] == "envoy.filters.http.jwt_authn":
                        providers += http_filter["typed_config"]["providers"].values()
    return providers


def build(
    target: Target,
    *,
    cors_allowed_origins: list[str] | None = None,
    jwks_path: str = JWKS_PATH,
    descriptor: bytes | None = None,
) -> Json:
    """The deploy config for ``target`` as a dict (see the module docstring)."""
    settings = deploy_settings(cors_allowed_origins)
    config = build_envoy_config(
        settings,
        descriptor=descriptor if descriptor is not None else DEFAULT_DESCRIPTOR.read_bytes(),
        upstreams=registry.upstreams(target.peers),
        admin_address=ADMIN_ADDRESS,
        dashboard_dir=DASHBOARD_DIR,
    )
    providers = _jwt_providers(config)
    if not providers:
        raise RuntimeError("gateway config has no jwt_authn provider to point at the JWKS file")
    for provider in providers:
        provider["local_jwks"] = {"filename": jwks_path}
    resources = config["static_resources"]
    resources["listeners"].append(_stats_listener(settings.envoy_admin_port))
    resources["clusters"].append(_admin_cluster(settings.envoy_admin_port))
    return config


def render(
    target: Target,
    *,
    cors_allowed_origins: list[str] | None = None,
    jwks_path: str = JWKS_PATH,
    descriptor: bytes | None = None,
) -> str:
    """The config as JSON text (valid YAML)."""
    config = build(
        target,
        cors_allowed_origins=cors_allowed_origins,
        jwks_path=jwks_path,
        descriptor=descriptor,
    )
    return json.dumps(config, indent=2) + "\n"


def target(name: str) -> Target:
    for candidate in TARGETS:
        if candidate.name == name:
            return candidate
    raise ValueError(f"unknown deploy target {name!r}: {[t.name for t in TARGETS]}")


def write_gateway_dir(
    name: str, cors_allowed_origins: list[str], out: Path = GATEWAY_DIR
) -> list[Path]:
    """What ``feedbackmesh gateway-config`` writes where Envoy reads it: ``envoy.yaml`` for
    the deployment's CORS origins and a copy of the dashboard (replacing an older one)."""
    text = render(target(name), cors_allowed_origins=cors_allowed_origins)
    bundle_files()  # refuses a missing or unusable bundle
    dashboard = out / DASHBOARD_DIR.relative_to(GATEWAY_DIR)
    shutil.rmtree(dashboard, ignore_errors=True)
    shutil.copytree(BUNDLE_DIR, dashboard)
    config = out / CONFIG_PATH.relative_to(GATEWAY_DIR)
    config.write_text(text, encoding="utf-8")
    return [config, dashboard]
