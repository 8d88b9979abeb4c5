"""What ``feedbackmesh up`` prints once the mesh is ready: where everything is, and a token."""

from __future__ import annotations

from mesh_app.up.ports import PortPlan
from mesh_app.up.stores import Stores
from mesh_app.up.supervisor import ManagedProcess
from mesh_runtime.auth import DEFAULT_USER_SCOPES, mint_token
from mesh_runtime.settings import Settings

DEV_TENANT = "demo"
DEV_USER = "demo-user"
DEV_TOKEN_TTL_SECONDS = 24 * 3600


def dev_token(settings: Settings) -> str | None:
    """A token for tenant "demo"; None when tokens cannot be minted here (RS256)."""
    if settings.jwt_algorithm != "HS256":
        return None
    return mint_token(
        settings,
        tenant_id=DEV_TENANT,
        user_id=DEV_USER,
        scopes=DEFAULT_USER_SCOPES,
        ttl_seconds=DEV_TOKEN_TTL_SECONDS,
    )


def print_ready(
    settings: Settings, plan: PortPlan, stores: Stores, services: list[ManagedProcess]
) -> None:
    gateway = f"http://127.0.0.1:{plan.gateway}"
    width = max(len(proc.name) for proc in services)
    token = dev_token(settings)
    lines = [
        "",
        f"Feedback Mesh is up (data in {settings.data_dir})",
        "",
        # The token rides in the fragment: the browser never sends it to a server or a log.
        f"  dashboard     {gateway}/"
        + (f"#token={token}" if token else "   (sign in with a token)"),
        f"  gateway       {gateway}   (JSON API; try {gateway}/healthz)",
    ]
    for i, proc in enumerate(services):
        assert proc.spec is not None
        label = "metrics" if i == 0 else ""
        lines.append(
            f"  {label:<12}  {proc.name:<{width}}  http://127.0.0.1:{proc.spec.metrics_port}/metrics"
            f"   (gRPC 127.0.0.1:{proc.spec.grpc_port}, pid {proc.pid})"
        )
    lines += [
        f"  envoy stats   http://127.0.0.1:{plan.admin}/stats/prometheus",
        f"  logs          {settings.data_dir / 'logs'}",
        f"  storage       {_storage(stores)}",
        "",
    ]
    if token is not None:
        hours = DEV_TOKEN_TTL_SECONDS // 3600
        lines += [
            f'Dev token (tenant "{DEV_TENANT}", user "{DEV_USER}", valid {hours} h):',
            "",
            f"  export TOKEN={token}",
            "",
            "Load sample data: feedbackmesh demo-data --count 500"
            + ("" if plan.gateway == settings.gateway_port else f" --gateway {gateway}"),
        ]
    lines += ["Ctrl-C stops the mesh; the data stays for the next `feedbackmesh up`.", ""]
    print("\n".join(lines), flush=True)


def _storage(stores: Stores) -> str:
    postgres = "embedded PostgreSQL" if "postgres" in stores.embedded else "PostgreSQL (configured)"
    redis = "embedded Valkey" if "redis" in stores.embedded else "Redis (configured)"
    clickhouse = "chDB (embedded)" if stores.clickhouse_embedded else "ClickHouse (configured)"
    return f"{postgres}, {redis}, {clickhouse}"
