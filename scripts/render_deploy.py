"""Render the Envoy gateway config for docker compose and Kubernetes into deploy/.

    python scripts/render_deploy.py            # rewrite the committed configs
    python scripts/render_deploy.py --check    # exit 1 if a committed config is stale
    FEEDBACKMESH_JWT_SECRET=... python scripts/render_deploy.py jwks > jwks.json

The configs come from ``gateway.config.build_envoy_config`` with fixed deploy settings
(never the caller's environment, so the output is reproducible), the descriptor set
inlined, and two deploy-specific changes:

* **No key material in the config.** The gateway inlines its JWKS (for HS256 that *is* the
  signing secret); here ``local_jwks`` points at a file mounted from a compose secret or a
  Kubernetes Secret instead (:data:`JWKS_PATH`), so the committed files and the ConfigMap
  hold nothing secret.
* **A read-only stats listener.** The admin interface stays on 127.0.0.1:9901 (it can
  stop Envoy and change its runtime); a second listener on 0.0.0.0:9902 proxies only
  ``GET /stats/prometheus`` and ``GET /ready`` to it, for Prometheus and the kubelet.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

from pydantic_settings import BaseSettings, PydanticBaseSettingsSource  # noqa: E402

from gateway import DEFAULT_DESCRIPTOR  # noqa: E402
from gateway.config import HCM, build_envoy_config  # noqa: E402
from gateway.filters import ROUTER  # noqa: E402
from gateway.jwks import hs256_jwks  # noqa: E402
from mesh_app import registry  # noqa: E402
from mesh_runtime.settings import Settings  # noqa: E402

Json = dict[str, Any]

#: Where Envoy reads its JWKS in both compose and Kubernetes (a mounted secret).
JWKS_PATH = "/run/secrets/feedbackmesh/jwks.json"
ADMIN_ADDRESS = "127.0.0.1"
STATS_PORT = 9902
STATS_PATHS = ("/stats/prometheus", "/ready")
ADMIN_CLUSTER = "envoy_admin"
#: Where Envoy reads the dashboard bundle in both: compose mounts gateway/generated/dashboard
#: from the checkout, Kubernetes copies it from the feedbackmesh image (an init container).
DASHBOARD_DIR = Path("/srv/feedbackmesh/dashboard")

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
    path: Path
    # Host name of a service in this deployment, from its registry name.
    host_suffix: str

    @property
    def peers(self) -> dict[str, str]:
        return {s.name: f"{s.name}{self.host_suffix}:{s.grpc_port}" for s in registry.SERVICES}


TARGETS: tuple[Target, ...] = (
    # Compose service names; Docker's DNS returns every replica of a scaled service.
    Target("compose", REPO / "deploy" / "compose" / "envoy.yaml", ""),
    # Headless Services (one A record per ready pod): Envoy's STRICT_DNS clusters then
    # balance requests over pods. Short names, so the base works in any namespace.
    Target("k8s", REPO / "deploy" / "k8s" / "base" / "envoy" / "envoy.yaml", "-headless"),
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


def deploy_settings() -> Settings:
    return _DeploySettings(**DEPLOY_SETTINGS)


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


def build(target: Target, *, jwks_path: str = JWKS_PATH, descriptor: bytes | None = None) -> Json:
    """The deploy config for ``target`` as a dict (see the module docstring)."""
    settings = deploy_settings()
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


def render(target: Target, *, jwks_path: str = JWKS_PATH, descriptor: bytes | None = None) -> str:
    """The text committed at ``target.path`` (JSON, which is valid YAML)."""
    return json.dumps(build(target, jwks_path=jwks_path, descriptor=descriptor), indent=2) + "\n"


def _write(check: bool) -> int:
    stale = 0
    descriptor = DEFAULT_DESCRIPTOR.read_bytes()
    for target in TARGETS:
        text = render(target, descriptor=descriptor)
        current = target.path.read_text(encoding="utf-8") if target.path.is_file() else ""
        rel = target.path.relative_to(REPO)
        if current == text:
            print(f"{rel}: up to date")
            continue
        if check:
            stale += 1
            diff = difflib.unified_diff(
                current.splitlines(), text.splitlines(), str(rel), f"{rel} (rendered)", lineterm=""
            )
            print("\n".join(list(diff)[:40]))
            print(f"{rel}: STALE, run python scripts/render_deploy.py", file=sys.stderr)
        else:
            target.path.parent.mkdir(parents=True, exist_ok=True)
            target.path.write_text(text, encoding="utf-8")
            print(f"{rel}: written")
    return 1 if stale else 0


def _jwks() -> int:
    """Print the HS256 JWKS for FEEDBACKMESH_JWT_SECRET (the file Envoy mounts)."""
    secret = os.environ.get("FEEDBACKMESH_JWT_SECRET", "")
    if len(secret.encode("utf-8")) < 32:
        print("FEEDBACKMESH_JWT_SECRET must be set and at least 32 bytes", file=sys.stderr)
        return 2
    print(json.dumps(json.loads(hs256_jwks(secret)), indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "command",
        nargs="?",
        choices=["envoy", "jwks"],
        default="envoy",
        help="envoy: render the Envoy configs (default); jwks: print the HS256 JWKS file",
    )
    parser.add_argument("--check", action="store_true", help="fail if a config is stale")
    args = parser.parse_args(argv)
    if args.command == "jwks":
        return _jwks()
    return _write(args.check)


if __name__ == "__main__":
    sys.exit(main())
