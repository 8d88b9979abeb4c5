"""``feedbackmesh up`` and ``feedbackmesh demo-data``: the whole mesh on one machine.

The work lives in the ``mesh_app.up`` package; this module is the CLI's entry point
(``add_commands`` registers the sub-commands, ``run_command`` runs one).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mesh_runtime.settings import Settings


def add_commands(commands: Any) -> None:
    up = commands.add_parser(
        "up",
        help="run the whole mesh in the foreground",
        description="Start PostgreSQL, Redis and ClickHouse (embedded unless "
        "FEEDBACKMESH_DATABASE_URL / _REDIS_URL / _CLICKHOUSE_URL are set), migrate, run the "
        "four services as separate processes behind Envoy, wait until every health check "
        "passes and print the URLs and a dev token. Ctrl-C stops everything; data is kept.",
    )
    up.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="where embedded data, logs and run files live (default FEEDBACKMESH_DATA_DIR, "
        "~/.local/share/feedbackmesh)",
    )
    up.add_argument("--gateway-port", type=int, default=None, help="HTTP port (default 8080)")
    up.add_argument(
        "--base-port",
        type=int,
        default=None,
        help="use a block of ports from BASE (gateway, admin, each service's gRPC and metrics "
        "port, Valkey) instead of the defaults, e.g. to run a second mesh",
    )
    up.add_argument(
        "--timeout", type=float, default=120.0, help="seconds to wait for health checks"
    )
    up.add_argument("--descriptor", type=Path, default=None, help=argparse.SUPPRESS)

    demo = commands.add_parser(
        "demo-data",
        help="load realistic sample feedback through the gateway",
        description="Submit N generated feedback (types, targets, ratings, comments, tags) "
        "through the JSON API with BatchSubmit, spread over several tenants (the first is "
        '"demo", the tenant of the token `feedbackmesh up` prints).',
    )
    demo.add_argument("--count", type=int, required=True, help="how many feedback to submit")
    demo.add_argument(
        "--gateway", default=None, help="gateway URL (default http://127.0.0.1:<gateway port>)"
    )
    demo.add_argument("--tenants", type=int, default=3, help="how many tenants (default 3)")
    demo.add_argument("--batch-size", type=int, default=100, help="items per BatchSubmit call")
    demo.add_argument("--seed", type=int, default=None, help="random seed (repeatable data)")


def run_command(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "up":
        from mesh_app.up.mesh import UpOptions, run_up

        options = UpOptions(
            data_dir=args.data_dir or settings.data_dir,
            base_port=args.base_port,
            gateway_port=args.gateway_port,
            timeout=args.timeout,
            descriptor=args.descriptor,
        )
        return run_up(settings, options)
    if args.command == "demo-data":
        from mesh_app.up.demo_data import load_demo_data

        gateway = args.gateway or f"http://127.0.0.1:{settings.gateway_port}"
        return load_demo_data(
            settings,
            gateway=gateway,
            count=args.count,
            tenants=args.tenants,
            batch_size=args.batch_size,
            seed=args.seed,
        )
    raise SystemExit(f"feedbackmesh: unknown command {args.command}")
