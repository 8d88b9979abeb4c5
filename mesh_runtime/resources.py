"""Storage clients and peer channels shared by the targets of one process.

Created lazily on first use (never at import), closed once at shutdown.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import grpc

from mesh_runtime import postgres
from mesh_runtime.auth import bearer_metadata, internal_token
from mesh_runtime.channels import channel_options
from mesh_runtime.errors import FailedPrecondition
from mesh_runtime.settings import Settings
from mesh_runtime.tracing import TraceContextClientInterceptor

if TYPE_CHECKING:
    import asyncpg
    import redis.asyncio as aioredis
    from clickhouse_connect.driver.client import Client as ClickHouseClient

logger = logging.getLogger(__name__)


def database_url(settings: Settings) -> str:
    if settings.database_url is None:
        raise FailedPrecondition(
            "FEEDBACKMESH_DATABASE_URL is not set (`feedbackmesh up` starts an embedded one)"
        )
    return settings.database_url.get_secret_value()


def create_redis(settings: Settings) -> aioredis.Redis:
    import redis.asyncio as aioredis

    if settings.redis_url is None:
        raise FailedPrecondition(
            "FEEDBACKMESH_REDIS_URL is not set (`feedbackmesh up` starts an embedded one)"
        )
    client: aioredis.Redis = aioredis.Redis.from_url(
        settings.redis_url.get_secret_value(),
        socket_connect_timeout=2,
        socket_timeout=5,
        health_check_interval=10,
    )
    return client


def create_clickhouse_client(
    settings: Settings, *, database: str | None = None
) -> ClickHouseClient:
    """A clickhouse-connect client for an HTTP server or embedded chDB (``chdb://dir``).

    The client is synchronous: call it through ``asyncio.to_thread``. One chDB client
    serializes its calls; separate clients on the same path run concurrently.
    """
    import clickhouse_connect

    url = settings.resolved_clickhouse_url()
    kwargs: dict[str, Any] = {"dsn": url}
    if database is not None:
        kwargs["database"] = database
    if not url.startswith("chdb://"):
        kwargs.update(connect_timeout=5, send_receive_timeout=60, autogenerate_session_id=False)
    return clickhouse_connect.get_client(**kwargs)


def is_embedded_clickhouse(settings: Settings) -> bool:
    return settings.resolved_clickhouse_url().startswith("chdb://")


class Resources:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._pool: asyncpg.Pool | None = None
        self._pool_lock = asyncio.Lock()
        self._redis: aioredis.Redis | None = None
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._internal_metadata: tuple[tuple[str, str], ...] | None = None

    @property
    def settings(self) -> Settings:
        return self._settings

    async def postgres_pool(self) -> asyncpg.Pool:
        """The process's one asyncpg pool (``db_pool_size`` connections), opened on first use."""
        async with self._pool_lock:
            if self._pool is None:
                url = database_url(self._settings)
                self._pool = await postgres.create_pool(url, self._settings.db_pool_size)
            return self._pool

    def redis(self) -> aioredis.Redis:
        if self._redis is None:
            self._redis = create_redis(self._settings)
        return self._redis

    def channel(self, address: str) -> grpc.aio.Channel:
        """A shared insecure channel to a peer service (``host:port``)."""
        if address not in self._channels:
            options = [
                *channel_options(self._settings),
                # gRPC's default reconnect backoff grows to 120 s: after a peer outage,
                # work waiting on it (pending sentiment) would idle for minutes.
                ("grpc.max_reconnect_backoff_ms", 5_000),
                ("grpc.lb_policy_name", self._settings.peer_lb_policy),
            ]
            self._channels[address] = grpc.aio.insecure_channel(
                address, options=options, interceptors=[TraceContextClientInterceptor()]
            )
        return self._channels[address]

    def internal_metadata(self) -> tuple[tuple[str, str], ...]:
        """Call metadata carrying the service token, for calls to peer services."""
        if self._internal_metadata is None:
            self._internal_metadata = bearer_metadata(internal_token(self._settings))
        return self._internal_metadata

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()
        self._channels.clear()
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
