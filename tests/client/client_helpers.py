"""Helpers of the client tests: the mesh's addresses, and one test body driving either
client flavour (the sync client's blocking calls run in a thread, because the servers
share the test's event loop)."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from feedbackmesh.client import AsyncFeedbackMeshClient, FeedbackMeshClient, FeedbackType
from mesh_runtime.server import MeshServer
from mesh_runtime.settings import Settings
from mesh_runtime.targets import ServiceTarget


@dataclass
class Mesh:
    targets: dict[str, str]
    token_for: Callable[..., str]
    db: asyncpg.Connection
    settings: Settings

    def options(self, tenant: str, **overrides: Any) -> dict[str, Any]:
        """Client options for ``tenant``: every service's address, plaintext, its token."""
        options: dict[str, Any] = {"targets": self.targets, "tls": False}
        options["token"] = self.token_for(tenant, "client-user")
        options.update(overrides)
        if "token_provider" in overrides:
            del options["token"]
        return options

    async def count(self, tenant: str) -> int:
        found = await self.db.fetchval("SELECT count(*) FROM feedback WHERE tenant_id = $1", tenant)
        return int(found)

    async def request_ids(self, tenant: str) -> list[str]:
        rows = await self.db.fetch("SELECT request_id FROM feedback WHERE tenant_id = $1", tenant)
        return [row["request_id"] for row in rows]


def new_tenant(prefix: str = "client") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def agent_feedback(index: int, **overrides: Any) -> dict[str, Any]:
    """Submission fields: agents 1..3, ratings 1..5 in turn, a comment on every other."""
    fields: dict[str, Any] = {
        "feedback_type": FeedbackType.AGENT,
        "agent_id": index % 3 + 1,
        "rating": index % 5 + 1,
        "tags": ["client-test", f"group-{index % 4}"],
    }
    if index % 2:
        fields["comment"] = "Great agent, it fixed my build." if index % 4 == 1 else "Slow."
    fields.update(overrides)
    return fields


@dataclass
class CallLog:
    """What the client sent: (method, request) per attempt, from a client interceptor."""

    calls: list[tuple[str, Any]] = field(default_factory=list)

    def record(self, method: str | bytes, request: Any) -> None:
        # grpc.aio hands the method over as bytes; the client may reuse a request message
        # for its next call (the next page), so keep a copy.
        sent = type(request)()
        sent.CopyFrom(request)
        self.calls.append((method.decode() if isinstance(method, bytes) else method, sent))

    def methods(self, suffix: str) -> list[Any]:
        return [request for method, request in self.calls if method.endswith(suffix)]


class _SyncRecorder(grpc.UnaryUnaryClientInterceptor):
    def __init__(self, log: CallLog) -> None:
        self._log = log

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        self._log.record(details.method, request)
        return continuation(details, request)


class _AsyncRecorder(grpc.aio.UnaryUnaryClientInterceptor):
    def __init__(self, log: CallLog) -> None:
        self._log = log

    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        self._log.record(details.method, request)
        return await continuation(details, request)


class Flavour:
    def __init__(self, name: str) -> None:
        self.name = name
        self.sync = name == "sync"

    @contextlib.asynccontextmanager
    async def client(self, log: CallLog | None = None, **options: Any) -> AsyncIterator[Any]:
        if log is not None:
            recorder = _SyncRecorder(log) if self.sync else _AsyncRecorder(log)
            options["interceptors"] = [recorder]
        if self.sync:
            client = FeedbackMeshClient(**options)
            try:
                yield client
            finally:
                client.close()
        else:
            async with AsyncFeedbackMeshClient(**options) as aclient:
                yield aclient

    async def run(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Calls a client method (a coroutine function for the async client)."""
        if self.sync:
            return await asyncio.to_thread(method, *args, **kwargs)
        return await method(*args, **kwargs)

    async def collect(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> list[Any]:
        """Every item of a client method's (async) iterator."""
        if self.sync:
            return await asyncio.to_thread(lambda: list(method(*args, **kwargs)))
        return [item async for item in method(*args, **kwargs)]

    def stream(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Stream:
        """A client method's (async) iterator, read one item at a time."""
        return Stream(method(*args, **kwargs))


class Stream:
    def __init__(self, items: Iterator[Any] | AsyncIterator[Any]) -> None:
        self._items = items

    async def next(self, timeout: float = 90.0) -> Any:
        if isinstance(self._items, Iterator):
            return await asyncio.wait_for(asyncio.to_thread(next, self._items), timeout)
        return await asyncio.wait_for(anext(self._items), timeout)

    async def close(self) -> None:
        """Stops the iterator (its generator's cleanup cancels the call)."""
        if isinstance(self._items, Iterator):
            await asyncio.to_thread(self._items.close)  # type: ignore[attr-defined]
        else:
            await self._items.aclose()  # type: ignore[attr-defined]


@contextlib.asynccontextmanager
async def scripted_server(
    settings: Settings, name: str, method: str, scope: str, register: Callable[[Any], None]
) -> AsyncIterator[str]:
    """A real MeshServer (auth interceptor, health) whose one service ``name`` answers
    ``method`` ("/package.Service/Method", needing ``scope``) with the servicer that
    ``register(server)`` adds; yields its address."""
    target = ServiceTarget(
        name=name,
        service_names=[method.split("/")[1]],
        method_scopes={method: scope},
        register=register,
    )
    server = MeshServer(settings, [target], port=0, metrics_port=None, host="127.0.0.1")
    await server.start()
    try:
        yield f"127.0.0.1:{server.port}"
    finally:
        await server.stop(grace=0.5, delay=0)


async def abort(
    context: grpc.aio.ServicerContext[Any, Any],
    code: grpc.StatusCode,
    retry_delay: float | None = None,
) -> None:
    """Fails the call with ``code`` and, if given, a google.rpc.RetryInfo delay (seconds)."""
    status = status_pb2.Status(code=code.value[0], message="scripted failure")
    if retry_delay is not None:
        seconds = int(retry_delay)
        delay = duration_pb2.Duration(seconds=seconds, nanos=int((retry_delay - seconds) * 1e9))
        detail = any_pb2.Any()
        detail.Pack(error_details_pb2.RetryInfo(retry_delay=delay))
        status.details.append(detail)
    await context.abort_with_status(rpc_status.to_status(status))


async def wait_until(
    predicate: Callable[[], Awaitable[bool]], what: str, timeout: float = 90.0
) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)
