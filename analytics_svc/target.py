"""The ``analytics`` target: AnalyticsService over the ClickHouse rollups, with the
data-versioned answer cache and the live version stream."""

from __future__ import annotations

import grpc

from analytics_svc.repository import AnalyticsRepository
from analytics_svc.service import AnalyticsService
from analytics_svc.servicer import AnalyticsServicer
from analytics_svc.versions import VersionReader
from analytics_svc.watch import WatchHub, WatchLimits
from feedbackmesh.analytics.v1 import analytics_pb2, analytics_pb2_grpc
from mesh_runtime.auth import SCOPE_ANALYTICS_READ
from mesh_runtime.data_versions import DataVersionKeys
from mesh_runtime.resources import Resources
from mesh_runtime.settings import Settings
from mesh_runtime.targets import ServiceTarget

SERVICE_NAME = analytics_pb2.DESCRIPTOR.services_by_name["AnalyticsService"].full_name
METHODS = (
    "GetRatingsAnalytics",
    "GetSentimentAnalytics",
    "GetUsageTrends",
    "ExportAnalytics",
    "WatchAnalytics",
)


async def create_target(settings: Settings, resources: Resources) -> ServiceTarget:
    repository = AnalyticsRepository(settings)
    redis, keys = resources.redis(), DataVersionKeys(settings)
    versions = VersionReader(repository.data_version, redis, keys)
    service = AnalyticsService(repository, versions, settings.analytics_cache_max_bytes)
    limits = WatchLimits(
        keepalive_seconds=settings.analytics_watch_keepalive_seconds,
        per_tenant=settings.analytics_watch_max_streams_per_tenant,
        total=settings.analytics_watch_max_streams,
    )
    hub = WatchHub(versions, limits, redis, keys)
    servicer = AnalyticsServicer(service, hub)

    def register(server: grpc.aio.Server) -> None:
        analytics_pb2_grpc.add_AnalyticsServiceServicer_to_server(servicer, server)

    async def stop() -> None:
        await hub.stop()
        await repository.close()

    return ServiceTarget(
        name="analytics",
        service_names=[SERVICE_NAME],
        method_scopes={f"/{SERVICE_NAME}/{m}": SCOPE_ANALYTICS_READ for m in METHODS},
        register=register,
        on_start=hub.start,
        on_drain=hub.close_streams,
        on_stop=stop,
        extra={"service": service, "hub": hub},
    )
