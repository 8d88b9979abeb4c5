"""AnalyticsService gRPC servicer: proto <-> domain only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import grpc
from google.api import httpbody_pb2

from analytics_svc import export
from analytics_svc.buckets import Grain
from analytics_svc.domain import RangeParams, TopTarget
from analytics_svc.service import AnalyticsService
from analytics_svc.watch import WatchHub
from feedbackmesh.analytics.v1 import analytics_pb2 as pb
from feedbackmesh.analytics.v1 import analytics_pb2_grpc
from feedbackmesh.feedback.v1 import feedback_pb2
from mesh_runtime.auth import current_principal
from mesh_runtime.downloads import attachment_filename, attachment_metadata
from mesh_runtime.errors import InvalidArgument
from mesh_runtime.timestamps import field_datetime

_GRAINS: dict[int, Grain] = {
    pb.GRANULARITY_UNSPECIFIED: Grain.DAY,
    pb.GRANULARITY_HOUR: Grain.HOUR,
    pb.GRANULARITY_DAY: Grain.DAY,
    pb.GRANULARITY_WEEK: Grain.WEEK,
    pb.GRANULARITY_MONTH: Grain.MONTH,
}
# Proto enum -> the ClickHouse Enum8 name ("" = every type).
_TYPES: dict[int, str] = {
    feedback_pb2.FEEDBACK_TYPE_UNSPECIFIED: "",
    feedback_pb2.FEEDBACK_TYPE_EXECUTION: "execution",
    feedback_pb2.FEEDBACK_TYPE_AGENT: "agent",
    feedback_pb2.FEEDBACK_TYPE_CHAT: "chat",
    feedback_pb2.FEEDBACK_TYPE_GENERAL: "general",
}


def _grain(value: int) -> Grain:
    if value not in _GRAINS:
        raise InvalidArgument.single("granularity", "unknown granularity")
    return _GRAINS[value]


def _type(value: int) -> str:
    if value not in _TYPES:
        raise InvalidArgument.single("feedback_type", "unknown feedback type")
    return _TYPES[value]


def _id(request: Any, name: str) -> int:
    value = int(getattr(request, name))
    if value < 0:
        raise InvalidArgument.single(name, "must not be negative")
    return value


def _range_params(request: Any) -> RangeParams:
    """The one request shape every view and export shares (see analytics.proto)."""
    return RangeParams(
        start=field_datetime(request, "start_time"),
        end=field_datetime(request, "end_time"),
        grain=_grain(request.granularity),
        time_zone=request.time_zone,
        feedback_type=_type(request.feedback_type),
        agent_id=_id(request, "agent_id"),
        execution_id=_id(request, "execution_id"),
        chat_session_id=request.chat_session_id,
        top_n=getattr(request, "top_n", 0),
        period=request.period,
    )


def _top(target: TopTarget) -> pb.TopTarget:
    return pb.TopTarget(id=target.id, count=target.count, avg_rating=target.avg_rating)


class AnalyticsServicer(analytics_pb2_grpc.AnalyticsServiceServicer):
    def __init__(self, service: AnalyticsService, hub: WatchHub) -> None:
        self._service = service
        self._hub = hub

    async def GetRatingsAnalytics(
        self,
        request: pb.GetRatingsAnalyticsRequest,
        context: grpc.aio.ServicerContext[
            pb.GetRatingsAnalyticsRequest, pb.GetRatingsAnalyticsResponse
        ],
    ) -> pb.GetRatingsAnalyticsResponse:
        result = await self._service.ratings(current_principal().tenant_id, _range_params(request))
        t = result.trend
        return pb.GetRatingsAnalyticsResponse(
            total_count=result.total_count,
            avg_rating=result.avg_rating,
            series=[
                pb.RatingsPoint(
                    date=p.date, count=p.count, avg_rating=p.avg_rating, rating_sum=p.rating_sum
                )
                for p in result.series
            ],
            distribution=[pb.RatingCount(rating=r, count=c) for r, c in result.distribution],
            trend=pb.Trend(
                previous_count=t.previous_count,
                previous_avg_rating=t.previous_avg_rating,
                count_change=t.count_change,
                count_change_percent=t.count_change_percent,
                avg_rating_change=t.avg_rating_change,
            ),
            data_version=result.data_version,
        )

    async def GetSentimentAnalytics(
        self,
        request: pb.GetSentimentAnalyticsRequest,
        context: grpc.aio.ServicerContext[
            pb.GetSentimentAnalyticsRequest, pb.GetSentimentAnalyticsResponse
        ],
    ) -> pb.GetSentimentAnalyticsResponse:
        result = await self._service.sentiment(
            current_principal().tenant_id, _range_params(request)
        )
        positive, neutral, negative, no_comment = result.totals
        return pb.GetSentimentAnalyticsResponse(
            series=[
                pb.SentimentPoint(
                    date=p.date,
                    positive=p.positive,
                    neutral=p.neutral,
                    negative=p.negative,
                    no_comment=p.no_comment,
                    avg_sentiment_score=p.avg_sentiment_score,
                )
                for p in result.series
            ],
            totals=pb.SentimentCounts(
                positive=positive, neutral=neutral, negative=negative, no_comment=no_comment
            ),
            avg_sentiment_score=result.avg_sentiment_score,
            top_positive_themes=[
                pb.Theme(tag=t.tag, count=t.count, avg_rating=t.avg_rating)
                for t in result.top_positive_themes
            ],
            top_negative_themes=[
                pb.Theme(tag=t.tag, count=t.count, avg_rating=t.avg_rating)
                for t in result.top_negative_themes
            ],
            data_version=result.data_version,
        )

    async def GetUsageTrends(
        self,
        request: pb.GetUsageTrendsRequest,
        context: grpc.aio.ServicerContext[pb.GetUsageTrendsRequest, pb.GetUsageTrendsResponse],
    ) -> pb.GetUsageTrendsResponse:
        result = await self._service.usage_trends(
            current_principal().tenant_id, _range_params(request)
        )
        return pb.GetUsageTrendsResponse(
            series=[
                pb.UsagePoint(date=p.date, submissions=p.submissions, active_users=p.active_users)
                for p in result.series
            ],
            top_agents=[_top(t) for t in result.top_agents],
            top_executions=[_top(t) for t in result.top_executions],
            total_submissions=result.total_submissions,
            total_active_users=result.total_active_users,
            data_version=result.data_version,
        )

    async def ExportAnalytics(
        self,
        request: pb.ExportAnalyticsRequest,
        context: grpc.aio.ServicerContext[pb.ExportAnalyticsRequest, httpbody_pb2.HttpBody],
    ) -> httpbody_pb2.HttpBody:
        view = export.parse_view(request.view)
        tenant_id = current_principal().tenant_id
        params = _range_params(request)
        if view is export.View.RATINGS:
            body = export.ratings_csv(await self._service.ratings(tenant_id, params))
        elif view is export.View.SENTIMENT:
            body = export.sentiment_csv(await self._service.sentiment(tenant_id, params))
        else:
            body = export.usage_csv(await self._service.usage_trends(tenant_id, params))
        name = attachment_filename(view.value, tenant_id, "csv", datetime.now(UTC))
        await context.send_initial_metadata(attachment_metadata(name))
        return httpbody_pb2.HttpBody(content_type=export.CONTENT_TYPE, data=body)

    async def WatchAnalytics(
        self,
        request: pb.WatchAnalyticsRequest,
        context: grpc.aio.ServicerContext[pb.WatchAnalyticsRequest, pb.WatchAnalyticsResponse],
    ) -> AsyncIterator[pb.WatchAnalyticsResponse]:
        async for version in self._hub.watch(current_principal().tenant_id):
            yield pb.WatchAnalyticsResponse(data_version=version)
