"""Commit the Envoy gateway configs of docker compose and Kubernetes into deploy/.

    python scripts/render_deploy.py            # rewrite the committed configs
    python scripts/render_deploy.py --check    # exit 1 if a committed config is stale
    FEEDBACKMESH_JWT_SECRET=... python scripts/render_deploy.py jwks > jwks.json

The running gateways render their config at start (``feedbackmesh gateway-config``, see
``mesh_app.gateway_deploy``) for the deployment's CORS origins; the committed files are the
same rendering with the default settings, for review (a config change shows in the diff)
and for the deploy tests, which run them through Envoy.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

from gateway import DEFAULT_DESCRIPTOR  # noqa: E402
from gateway.jwks import hs256_jwks  # noqa: E402
from mesh_app import gateway_deploy  # noqa: E402
from mesh_app.gateway_deploy import (  # noqa: E402, F401 - the deploy tests use these names
    ADMIN_CLUSTER,
    CONFIG_PATH,
    DASHBOARD_DIR,
    DEPLOY_SETTINGS,
    GATEWAY_DIR,
    JWKS_PATH,
    _jwt_providers,
)


@dataclass(frozen=True)
class CommittedConfig:
    target: gateway_deploy.Target
    path: Path

    @property
    def name(self) -> str:
        return self.target.name


TARGETS: tuple[CommittedConfig, ...] = (
    CommittedConfig(gateway_deploy.target("compose"), REPO / "deploy" / "compose" / "envoy.yaml"),
    CommittedConfig(
        gateway_deploy.target("k8s"), REPO / "deploy" / "k8s" / "base" / "envoy" / "envoy.yaml"
    ),
)


def render(
    committed: CommittedConfig, *, jwks_path: str = JWKS_PATH, descriptor: bytes | None = None
) -> str:
    """The text committed at ``committed.path``: the default settings' rendering."""
    return gateway_deploy.render(committed.target, jwks_path=jwks_path, descriptor=descriptor)


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
