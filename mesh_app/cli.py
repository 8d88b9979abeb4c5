"""The ``feedbackmesh`` command: one binary, many targets (in the manner of Loki)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mesh_app import __version__, registry
from mesh_runtime.auth import DEFAULT_USER_SCOPES, mint_token
from mesh_runtime.logs import configure_logging
from mesh_runtime.settings import Settings
from mesh_runtime.tracing import configure_tracing

logger = logging.getLogger(__name__)

_DESCRIPTION = """\
Feedback Mesh: feedback on AI-agent executions, agents and chat sessions, scored for
sentiment, kept in PostgreSQL, streamed into ClickHouse and served as exact analytics.

Settings come from FEEDBACKMESH_* environment variables (see README.md)."""


class UsageError(Exception):
    """A command-line mistake: printed as one line, exit code 2."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="feedbackmesh",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"feedbackmesh {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="serve one or more services in this process",
        description="Serve the given targets on one gRPC port (FEEDBACKMESH_GRPC_PORT, default "
        "the first target's port) with one /metrics endpoint. Targets: "
        f"{', '.join(registry.SERVICE_NAMES)}, or 'all'. With embedded ClickHouse (chDB), "
        f"{' and '.join(s.name for s in registry.SERVICES if s.uses_clickhouse)} must share "
        "a process.",
    )
    serve.add_argument(
        "targets", nargs="+", metavar="TARGET", choices=[*registry.SERVICE_NAMES, "all"]
    )

    token = commands.add_parser(
        "token",
        help="print a development JWT (HS256) and nothing else",
        description="Mint a token signed with FEEDBACKMESH_JWT_SECRET for a tenant and user.",
    )
    token.add_argument("--tenant", required=True, help="tenant id (claim tenant_id)")
    token.add_argument("--user", required=True, help="user id (claim sub)")
    token.add_argument(
        "--scope",
        action="append",
        help=f"a scope to grant (repeatable); default: {' '.join(DEFAULT_USER_SCOPES)}",
    )
    token.add_argument("--ttl", type=int, default=24 * 3600, help="lifetime in seconds")

    commands.add_parser(
        "migrate",
        help="apply PostgreSQL and ClickHouse migrations",
        description="Apply the Alembic migrations to FEEDBACKMESH_DATABASE_URL and the "
        "ClickHouse schema migrations to FEEDBACKMESH_CLICKHOUSE_URL; idempotent.",
    )

    wait = commands.add_parser(
        "wait-for-schema",
        help="wait until the targets' schemas are this release's (a rollout gate)",
        description="Poll until every store the targets use has this release's schema "
        "(after `feedbackmesh migrate`); exit 0 then, 1 on timeout. Kubernetes runs it as "
        "an init container, so new pods start only after the migration Job.",
    )
    wait.add_argument(
        "targets", nargs="+", metavar="TARGET", choices=[*registry.SERVICE_NAMES, "all"]
    )
    wait.add_argument("--timeout", type=float, default=900.0, help="seconds to wait")
    wait.add_argument("--interval", type=float, default=3.0, help="seconds between checks")

    check = commands.add_parser(
        "healthcheck",
        help="exit 0 when a gRPC server reports SERVING",
        description="Ask grpc.health.v1 at ADDR; exit 0 if SERVING, 1 otherwise.",
    )
    check.add_argument("--addr", required=True, help="host:port")
    check.add_argument("--service", default="", help="service name (default: the server)")
    check.add_argument("--timeout", type=float, default=3.0)

    gateway = commands.add_parser(
        "gateway-config",
        help="write a compose/Kubernetes gateway's Envoy config and dashboard",
        description="Render Envoy's config for the deployment (its settings: "
        "FEEDBACKMESH_CORS_ALLOWED_ORIGINS) and copy the dashboard next to it, into the "
        "directory the Envoy container mounts (an init step before Envoy starts).",
    )
    gateway.add_argument("--target", required=True, choices=["compose", "k8s"])
    gateway.add_argument(
        "--out", type=Path, default=None, help="directory (default /srv/feedbackmesh/gateway)"
    )

    from mesh_app import cli_up

    cli_up.add_commands(commands)
    return parser


def _expand_targets(names: Sequence[str]) -> list[str]:
    if "all" in names:
        return list(registry.SERVICE_NAMES)
    return list(dict.fromkeys(names))


async def _serve(settings: Settings, names: list[str]) -> None:
    from mesh_app.targets import create_targets
    from mesh_runtime.resources import Resources, is_embedded_clickhouse
    from mesh_runtime.server import MeshServer

    problem = registry.colocation_problem(
        names, embedded_clickhouse=is_embedded_clickhouse(settings)
    )
    if problem is not None:
        raise UsageError(problem)
    first = registry.spec(names[0])
    port = settings.grpc_port if settings.grpc_port is not None else first.grpc_port
    metrics_port = settings.metrics_port
    if metrics_port is None:
        metrics_port = first.metrics_port
    # Co-located targets call each other on this process's own port.
    local = f"127.0.0.1:{port}"
    settings = registry.with_default_peers(settings.with_peers(**dict.fromkeys(names, local)))
    resources = Resources(settings)
    try:
        targets = await create_targets(names, settings, resources)
        server = MeshServer(settings, targets, port=port, metrics_port=metrics_port)
        await server.start()
        await server.run_until_signal()
    finally:
        await resources.close()


async def _wait_for_schema(settings: Settings, names: list[str], args: Any) -> bool:
    checks = [check for n in names if (check := registry.spec(n).load_schema_check())]
    deadline = time.monotonic() + args.timeout
    while True:
        try:
            pending = [c for c in checks if not await c(settings)]
        except Exception as exc:  # a store not reachable yet: keep waiting
            logger.warning("schema check failed: %s", type(exc).__name__)
            pending = checks
        if not pending:
            logger.info("schema is current", extra={"targets": names})
            return True
        if time.monotonic() >= deadline:
            logger.error("schema still not current after %.0fs; run `feedbackmesh migrate`",
                         args.timeout)  # fmt: skip
            return False
        logger.info("waiting for the migration", extra={"targets": names})
        await asyncio.sleep(args.interval)


async def _migrate(settings: Settings) -> None:
    for spec in registry.SERVICES:
        migrate = spec.load_migration()
        if migrate is not None:
            await migrate(settings)


async def _healthcheck(addr: str, service: str, timeout: float) -> bool:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    async with grpc.aio.insecure_channel(addr) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = await stub.Check(
                health_pb2.HealthCheckRequest(service=service), timeout=timeout
            )
        except grpc.aio.AioRpcError:
            return False
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = Settings()
    try:
        if args.command == "token":
            scopes = args.scope or DEFAULT_USER_SCOPES
            print(
                mint_token(
                    settings,
                    tenant_id=args.tenant,
                    user_id=args.user,
                    scopes=scopes,
                    ttl_seconds=args.ttl,
                )
            )
            return 0
        if args.command == "healthcheck":
            return 0 if asyncio.run(_healthcheck(args.addr, args.service, args.timeout)) else 1
        if args.command == "gateway-config":
            from mesh_app.gateway_deploy import GATEWAY_DIR, write_gateway_dir

            out = args.out or GATEWAY_DIR
            for path in write_gateway_dir(args.target, settings.cors_allowed_origins, out):
                print(f"wrote {path}")
            return 0
        configure_logging(
            settings.log_level, settings.log_format, settings.log_repeat_interval_seconds
        )
        if args.command == "serve":
            names = _expand_targets(args.targets)
            configure_tracing(settings, "feedbackmesh-" + "-".join(names))
            asyncio.run(_serve(settings, names))
            return 0
        if args.command == "wait-for-schema":
            names = _expand_targets(args.targets)
            return 0 if asyncio.run(_wait_for_schema(settings, names, args)) else 1
        if args.command == "migrate":
            asyncio.run(_migrate(settings))
            return 0
        from mesh_app import cli_up

        return cli_up.run_command(args, settings)
    except UsageError as exc:
        print(f"feedbackmesh: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
