"""WatchAnalytics over gRPC with real Redis, the versions published by the writer's own
publisher: the first event at once, a new one when the tenant's version moves, only
the caller's tenant, keep-alives, bounded streams, and streams ended by a drain."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import grpc
import pytest
import redis.asyncio as aioredis

from feedbackmesh.analytics.v1 import analytics_pb2 as pb
from feedbackmesh.analytics.v1 import analytics_pb2_grpc
from ingest_svc.versions import DataVersions, VersionPublisher
from mesh_app.local import LocalMesh
from mesh_runtime.auth import bearer_metadata
from mesh_runtime.data_versions import DataVersionKeys
from mesh_runtime.settings import Settings

RUN = uuid.uuid4().hex[:6]
A, B, C = (f"watch-{name}-{RUN}" for name in "abc")


async def _events(
    stub: analytics_pb2_grpc.AnalyticsServiceAsyncStub, token: str
) -> AsyncIterator[int]:
    call = stub.WatchAnalytics(pb.WatchAnalyticsRequest(), metadata=bearer_metadata(token))
    async for event in call:
        yield event.data_version


async def test_streams_carry_the_own_tenants_versions(
    settings: Settings, token_for: Callable[..., str]
) -> None:
    own = settings.model_copy(
        update={
            "clickhouse_database": f"watch_{RUN}",
            "analytics_watch_keepalive_seconds": 0.3,
            "analytics_watch_max_streams_per_tenant": 2,
            "analytics_watch_max_streams": 3,
        }
    )
    assert own.redis_url is not None
    redis = aioredis.Redis.from_url(own.redis_url.get_secret_value())
    writer = DataVersions(VersionPublisher(redis, DataVersionKeys(own), lease_seconds=60))
    writer.load({A: 100, B: 200}, floor=200)
    assert await writer.publish()  # every version, under the writer's lease
    mesh = LocalMesh()
    server = await mesh.start(["analytics"], own)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
    stub = analytics_pb2_grpc.AnalyticsServiceStub(channel)
    try:
        mine, theirs = _events(stub, token_for(A)), _events(stub, token_for(B))
        assert await asyncio.wait_for(anext(mine), 10) == 100
        assert await asyncio.wait_for(anext(theirs), 10) == 200
        version = writer.next_version()
        await writer.announce({A}, version)
        await writer.commit({A}, version)
        seen = [await asyncio.wait_for(anext(mine), 10) for _ in range(2)]
        assert version in seen and set(seen) <= {100, version}
        # B hears only keep-alives with its own version.
        assert [await asyncio.wait_for(anext(theirs), 10) for _ in range(3)] == [200] * 3

        second = _events(stub, token_for(A))
        assert await asyncio.wait_for(anext(second), 10) == version
        with pytest.raises(grpc.aio.AioRpcError) as per_tenant:
            await anext(_events(stub, token_for(A)))
        assert per_tenant.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        with pytest.raises(grpc.aio.AioRpcError) as per_server:
            await anext(_events(stub, token_for(C)))
        assert per_server.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED

        # A drain ends the open streams (clients reconnect elsewhere) instead of holding
        # the shutdown for the whole grace period.
        await asyncio.wait_for(server.stop(grace=30.0, delay=0), 15)
        with pytest.raises((StopAsyncIteration, grpc.aio.AioRpcError)):
            while True:
                await asyncio.wait_for(anext(mine), 10)
    finally:
        await channel.close()
        await mesh.stop()
        await redis.aclose()
