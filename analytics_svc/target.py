"""The ``analytics`` target: AnalyticsService over the ClickHouse rollups."""

from __future__ import annotations

import grpc

from analytics_svc.repository import AnalyticsRepository
from analytics_svc.service import AnalyticsService
from analytics_svc.servicer import AnalyticsServicer
from feedbackmesh.analytics.v1 import analytics_pb2, analytics_pb2_grpc
from mesh_runtime.auth import SCOPE_ANALYTICS_READ
from mesh_runtime.resources import Resources
from mesh_runtime.settings import Settings
from mesh_runtime.targets import ServiceTarget

SERVICE_NAME = analytics_pb2.DESCRIPTOR.services_by_name["AnalyticsService"].full_name
METHODS = ("GetRatingsAnalytics", "GetSentimentAnalytics", "GetUsageTrends", "ExportAnalytics")


async def create_target(settings: Settings, resources: Resources) -> ServiceTarget:
    repository = AnalyticsRepository(settings)
    servicer = AnalyticsServicer(AnalyticsService(repository))

    def register(server: grpc.aio.Server) -> None:
        analytics_pb2_grpc.add_AnalyticsServiceServicer_to_server(servicer, server)

    return ServiceTarget(
        name="analytics",
        service_names=[SERVICE_NAME],
        method_scopes={f"/{SERVICE_NAME}/{m}": SCOPE_ANALYTICS_READ for m in METHODS},
        register=register,
        on_stop=repository.close,
    )
