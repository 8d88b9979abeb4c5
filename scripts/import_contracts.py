"""The layering rules as import-linter contracts, checked by ``scripts/test``.

    python scripts/import_contracts.py          # check; exit 1 when a contract is broken
    python scripts/import_contracts.py --show   # print the contracts (import-linter TOML)

Floors, top down (docs/architecture.md draws them): the composition root ``mesh_app``;
the services and the gateway's config generation, independent of each other; the shared
runtime ``mesh_runtime``; the generated API ``feedbackmesh``. Nothing imports a floor
above its own, so nothing but tests, benchmarks and scripts (no packages, so unchecked)
imports ``mesh_app``. Inside every service: target -> servicer -> service (ingest's:
worker) -> repository, and a servicer reaches the repository only through the service.

The service packages come from ``mesh_app.registry``: a new service is under every
contract without an edit here.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

from importlinter.cli import lint_imports  # noqa: E402

from mesh_app import registry  # noqa: E402

# Beside the services on their floor: imports no service, and no service imports it.
GATEWAY = "gateway"
RUNTIME = "mesh_runtime"
GENERATED_API = "feedbackmesh"
ROOT = "mesh_app"
# Each service's own floors, top down; (optional) where a service may lack the module.
SERVICE_LAYERS = ("target", "servicer", "(service) | (worker)", "(repository)")


def service_packages() -> list[str]:
    return sorted({spec.target_module.split(".")[0] for spec in registry.SERVICES})


def root_packages() -> list[str]:
    return [ROOT, *service_packages(), GATEWAY, RUNTIME, GENERATED_API]


def contracts() -> list[dict[str, object]]:
    services = service_packages()
    return [
        {
            "name": "No import cycle among the modules or subpackages of any package",
            "type": "acyclic_siblings",
            "ancestors": root_packages(),
            # `python -m mesh_app.up.child` is a process entry point whose program is
            # `feedbackmesh serve`: it calls the CLI, it is not a layer under it.
            "ignore_imports": ["mesh_app.up.child -> mesh_app.cli"],
        },
        {
            "name": "Floors: composition root > services and gateway > runtime > generated API",
            "type": "layers",
            "layers": [ROOT, " | ".join([*services, GATEWAY]), RUNTIME, GENERATED_API],
        },
        {
            "name": "Inside a service: target > servicer > service > repository",
            "type": "layers",
            "containers": services,
            "layers": list(SERVICE_LAYERS),
        },
        {
            "name": "A servicer reaches the repository only through the service",
            "type": "forbidden",
            "source_modules": [f"{service}.servicer" for service in services],
            "forbidden_modules": [f"{s}.repository" for s in services if _has(s, "repository")],
            "allow_indirect_imports": "True",
        },
    ]


def _has(package: str, module: str) -> bool:
    return importlib.util.find_spec(f"{package}.{module}") is not None


def config_toml() -> str:
    """The contracts as an import-linter TOML file (values are strings and string lists,
    which JSON spells the way TOML does)."""
    lines = ["[tool.importlinter]", f"root_packages = {json.dumps(root_packages())}", ""]
    for contract in contracts():
        lines.append("[[tool.importlinter.contracts]]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in contract.items()]
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--show", action="store_true", help="print the contracts and exit")
    args = parser.parse_args(argv)
    text = config_toml()
    if args.show:
        print(text)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "importlinter.toml"
        path.write_text(text, encoding="utf-8")
        code: int = lint_imports(config_filename=str(path), no_cache=True, no_logo=True)
        return code


if __name__ == "__main__":
    raise SystemExit(main())
