"""The ``sentiment`` target: loads the configured analyzer once and serves it."""

from __future__ import annotations

import asyncio
import logging
import time

import grpc

from feedbackmesh.sentiment.v1 import sentiment_pb2, sentiment_pb2_grpc
from mesh_runtime.auth import SCOPE_SENTIMENT
from mesh_runtime.resources import Resources
from mesh_runtime.settings import Settings
from mesh_runtime.targets import ServiceTarget
from sentiment_svc.analyzers import build_analyzer
from sentiment_svc.service import SentimentService
from sentiment_svc.servicer import SentimentServicer

logger = logging.getLogger(__name__)

SERVICE_NAME = sentiment_pb2.DESCRIPTOR.services_by_name["SentimentService"].full_name


async def create_target(settings: Settings, resources: Resources) -> ServiceTarget:
    started = time.perf_counter()
    analyzer = await asyncio.to_thread(build_analyzer, settings.sentiment_analyzer)
    logger.info(
        "sentiment analyzer loaded",
        extra={"analyzer": analyzer.name, "seconds": round(time.perf_counter() - started, 3)},
    )
    service = SentimentService(analyzer)
    description = (analyzer.__doc__ or analyzer.name).strip().splitlines()[0]
    servicer = SentimentServicer(service, description)

    def register(server: grpc.aio.Server) -> None:
        sentiment_pb2_grpc.add_SentimentServiceServicer_to_server(servicer, server)

    async def stop() -> None:
        service.close()

    methods = ("AnalyzeSentiment", "BatchAnalyzeSentiment", "GetModelInfo")
    return ServiceTarget(
        name="sentiment",
        service_names=[SERVICE_NAME],
        method_scopes={f"/{SERVICE_NAME}/{method}": SCOPE_SENTIMENT for method in methods},
        register=register,
        on_stop=stop,
    )
