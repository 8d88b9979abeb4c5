"""The ``ingest`` target: migrates ClickHouse, runs the worker, serves IngestService."""

from __future__ import annotations

import asyncio

import grpc

from feedbackmesh.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from ingest_svc import metrics
from ingest_svc.outbox_client import OutboxClient
from ingest_svc.repository import ClickHouseRepository
from ingest_svc.schema import migrate_clickhouse
from ingest_svc.servicer import IngestServicer
from ingest_svc.subscriber import Subscriber
from ingest_svc.versions import DataVersions, VersionPublisher
from ingest_svc.worker import IngestWorker
from ingest_svc.writer import IngestStats, Writer
from mesh_runtime.auth import SCOPE_INGEST_READ
from mesh_runtime.data_versions import DataVersionKeys
from mesh_runtime.resources import Resources
from mesh_runtime.settings import Settings
from mesh_runtime.targets import ServiceTarget

SERVICE_NAME = ingest_pb2.DESCRIPTOR.services_by_name["IngestService"].full_name


async def create_target(settings: Settings, resources: Resources) -> ServiceTarget:
    metrics.initialise()
    stats = IngestStats()
    # Writer and status reader get separate clients: one chDB client serializes calls.
    writer_repo = ClickHouseRepository(settings)
    reader_repo = ClickHouseRepository(settings)
    publisher = VersionPublisher(
        resources.redis(), DataVersionKeys(settings), settings.data_version_lease_seconds
    )
    worker = IngestWorker(
        settings,
        Writer(writer_repo, stats, DataVersions(publisher)),
        stats,
        OutboxClient(resources, settings.peer("feedback")),
        reader_repo,
    )
    servicer = IngestServicer(worker)

    def register(server: grpc.aio.Server) -> None:
        ingest_pb2_grpc.add_IngestServiceServicer_to_server(servicer, server)

    async def start() -> None:
        await asyncio.to_thread(migrate_clickhouse, settings)
        await asyncio.to_thread(writer_repo.warm_up)
        subscriber = Subscriber(
            resources.redis(), settings.redis_channel, worker.on_event, worker.wake
        )
        worker.start(subscriber)

    async def stop() -> None:
        await worker.stop()
        for repo in (writer_repo, reader_repo):
            await asyncio.to_thread(repo.close)

    return ServiceTarget(
        name="ingest",
        service_names=[SERVICE_NAME],
        method_scopes={f"/{SERVICE_NAME}/GetIngestStatus": SCOPE_INGEST_READ},
        register=register,
        on_start=start,
        on_stop=stop,
        extra={"worker": worker},
    )
