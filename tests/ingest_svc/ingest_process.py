"""A stand-alone ingest server for the SIGKILL test (its own chDB directory, its own
process), and ``dump`` to read that directory after the server is gone.

    python ingest_process.py serve                    # settings from FEEDBACKMESH_*
    python ingest_process.py dump DATABASE TENANT...  # JSON snapshot on stdout
"""

from __future__ import annotations

import asyncio
import json
import sys

from ingest_snapshots import clickhouse_snapshot

from ingest_svc.target import create_target
from mesh_runtime.logs import configure_logging
from mesh_runtime.resources import Resources, create_clickhouse_client
from mesh_runtime.server import MeshServer
from mesh_runtime.settings import Settings


async def serve(settings: Settings) -> None:
    resources = Resources(settings)
    try:
        target = await create_target(settings, resources)
        server = MeshServer(settings, [target], port=settings.grpc_port or 0, metrics_port=None)
        await server.start()
        print(f"READY {server.port}", flush=True)
        await server.run_until_signal()
    finally:
        await resources.close()


def main() -> None:
    settings = Settings()
    if sys.argv[1] == "serve":
        configure_logging(settings.log_level, "text")
        asyncio.run(serve(settings))
    else:
        client = create_clickhouse_client(settings)
        print(json.dumps(clickhouse_snapshot(client, sys.argv[2], sys.argv[3:])))


if __name__ == "__main__":
    main()
