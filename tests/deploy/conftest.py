"""Session fixtures for the offline deployment tests (helpers: deploy_helpers.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

# The test modules import deploy_helpers from this directory (no __init__.py here, as in
# the other test folders); make that independent of how pytest was invoked.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from deploy_helpers import COMPOSE_FILE, KUSTOMIZATIONS, Doc, kustomize


@pytest.fixture(scope="session")
def renders() -> dict[str, list[Doc]]:
    """name (base, dev, prod) -> the documents ``kubectl kustomize`` renders."""
    return {name: kustomize(path) for name, path in KUSTOMIZATIONS.items()}


@pytest.fixture(scope="session")
def compose() -> Doc:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data
