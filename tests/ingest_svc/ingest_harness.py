"""The ingest test harness: real SentimentService + FeedbackService (PostgreSQL, Redis)
and an ingest server that can be stopped and restarted, each test with its own
ClickHouse database (in the session's chDB directory) and its own tenants.

A plain module (not conftest) so test modules can import it by a unique name."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from ingest_snapshots import assert_exact, clickhouse_snapshot, pg_snapshot

from feedbackmesh.feedback.v1 import feedback_pb2, feedback_pb2_grpc
from feedbackmesh.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from ingest_svc.target import create_target
from ingest_svc.worker import IngestWorker
from mesh_runtime.auth import SCOPE_FEEDBACK_WRITE, SCOPE_INGEST_READ, SCOPE_INTERNAL
from mesh_runtime.resources import Resources, create_clickhouse_client
from mesh_runtime.server import MeshServer
from mesh_runtime.settings import Settings

COMMENTS = [
    "", "", "great agent, loved it", "terrible answer, useless", "it was fine I guess",
    "awesome, very helpful", "slow and wrong", "ok", "the best chat ever", "bad bad bad",
]  # fmt: skip
TAGS = ["speed", "accuracy", "ux", "billing", "latency", "tone"]


def random_request(rng: random.Random) -> feedback_pb2.SubmitFeedbackRequest:
    kind = rng.choice(
        [
            feedback_pb2.FEEDBACK_TYPE_EXECUTION,
            feedback_pb2.FEEDBACK_TYPE_AGENT,
            feedback_pb2.FEEDBACK_TYPE_CHAT,
            feedback_pb2.FEEDBACK_TYPE_GENERAL,
        ]
    )
    request = feedback_pb2.SubmitFeedbackRequest(
        request_id=uuid.uuid4().hex,
        feedback_type=kind,
        rating=rng.randint(1, 5),
        comment=rng.choice(COMMENTS),
        tags=rng.sample(TAGS, rng.randint(0, 3)),
    )
    if kind == 1:
        request.execution_id = rng.randint(1, 50)
    elif kind == 2:
        request.agent_id = rng.randint(1, 10)
    elif kind == 3:
        request.chat_session_id = f"chat-{rng.randint(1, 30)}"
    return request


class Mesh:
    def __init__(self, base: Settings, serve: Callable[..., Awaitable[MeshServer]],
                 token_for: Callable[..., str]) -> None:  # fmt: skip
        self.base = base
        self._serve = serve
        self._token_for = token_for
        self.tenants = [f"t-{uuid.uuid4().hex[:8]}-{i}" for i in range(3)]
        self.rng = random.Random(7)
        self.settings = base
        self.ingest: MeshServer | None = None
        self.worker: IngestWorker | None = None
        self._resources: list[Resources] = []
        self.clickhouse = create_clickhouse_client(base)

    async def start_backends(self, **overrides: Any) -> None:
        base = self.base.model_copy(update={"sentiment_analyzer": "vader", **overrides})
        sentiment = await self._serve(["sentiment"], settings=base, metrics=False)
        with_sentiment = base.with_peers(sentiment=f"127.0.0.1:{sentiment.port}")
        feedback = await self._serve(["feedback"], settings=with_sentiment, metrics=False)
        self.settings = with_sentiment.with_peers(feedback=f"127.0.0.1:{feedback.port}").model_copy(
            update={"clickhouse_database": f"ingest_{uuid.uuid4().hex[:10]}"}
        )
        self.feedback_channel = grpc.aio.insecure_channel(self.settings.peer("feedback"))

    async def start_ingest(self, **overrides: Any) -> MeshServer:
        settings = self.settings.model_copy(update=overrides)
        resources = Resources(settings)
        self._resources.append(resources)
        target = await create_target(settings, resources)
        self.worker = target.extra["worker"]  # type: ignore[assignment]
        self.ingest = await self._serve([target], settings=settings, metrics=False)
        self.ingest_channel = grpc.aio.insecure_channel(f"127.0.0.1:{self.ingest.port}")
        return self.ingest

    async def stop_ingest(self) -> None:
        assert self.ingest is not None
        await self.ingest.stop(grace=0.5)
        await self.ingest_channel.close()
        self.ingest = None

    def metadata(self, tenant: str = "", user: str = "u", scopes: Any = None) -> Any:
        scopes = scopes or [SCOPE_FEEDBACK_WRITE, SCOPE_INGEST_READ, SCOPE_INTERNAL]
        token = self._token_for(tenant or self.tenants[0], user, scopes)
        return (("authorization", f"Bearer {token}"),)

    async def submit(self, count: int, *, users: int = 4) -> list[int]:
        """Submits ``count`` feedback spread over the tenants and users, in batches."""
        stub = feedback_pb2_grpc.FeedbackServiceStub(self.feedback_channel)
        ids: list[int] = []
        while len(ids) < count:
            tenant = self.rng.choice(self.tenants)
            user = f"user-{self.rng.randint(1, users)}"
            size = min(count - len(ids), self.rng.randint(1, 60))
            reply = await stub.BatchSubmitFeedback(
                feedback_pb2.BatchSubmitFeedbackRequest(
                    requests=[random_request(self.rng) for _ in range(size)]
                ),
                metadata=self.metadata(tenant, user),
            )
            assert reply.created_count == size, reply
            ids += [r.feedback.id for r in reply.results]
        return ids

    @contextlib.asynccontextmanager
    async def submitting(self, per_second: float = 100) -> AsyncIterator[list[int]]:
        """Keeps submitting in the background while the block runs."""
        ids: list[int] = []

        async def loop() -> None:
            while True:
                ids.extend(await self.submit(max(1, int(per_second / 10))))
                await asyncio.sleep(0.1)

        task = asyncio.create_task(loop())
        try:
            yield ids
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def status(self) -> ingest_pb2.GetIngestStatusResponse:
        stub = ingest_pb2_grpc.IngestServiceStub(self.ingest_channel)
        status: ingest_pb2.GetIngestStatusResponse = await stub.GetIngestStatus(
            ingest_pb2.GetIngestStatusRequest(), metadata=self.metadata()
        )
        return status

    async def wait_exact(self, timeout: float = 30.0) -> None:
        """Waits until ClickHouse holds what PostgreSQL holds, then asserts exactness."""
        deadline = time.monotonic() + timeout
        while True:
            pg = await pg_snapshot(self.settings.database_url.get_secret_value(), self.tenants)  # type: ignore[union-attr]
            ch = await asyncio.to_thread(
                clickhouse_snapshot, self.clickhouse, self.settings.clickhouse_database,
                self.tenants,
            )  # fmt: skip
            if len(ch["rows"]) >= len(pg["rows"]) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.3)
        assert pg["rows"], "nothing submitted"
        assert_exact(ch, pg)

    async def close(self) -> None:
        if self.ingest is not None:
            await self.stop_ingest()
        self.clickhouse.close()
        await self.feedback_channel.close()
        for resources in self._resources:
            await resources.close()


MeshFactory = Callable[..., Awaitable[Mesh]]
