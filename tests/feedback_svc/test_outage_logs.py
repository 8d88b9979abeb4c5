"""With Redis down, a FeedbackService started as `feedbackmesh serve` logs the failing
publish once, not a traceback per outbox release (issue H: ~32 KB/s of tracebacks)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import grpc

from feedbackmesh.feedback.v1 import feedback_pb2, feedback_pb2_grpc
from mesh_runtime.auth import DEFAULT_USER_SCOPES, bearer_metadata, mint_token
from mesh_runtime.net import free_port
from mesh_runtime.settings import Settings

SUBMISSIONS = 40


def test_a_publish_failing_every_release_is_logged_once(settings: Settings, tmp_path: Path) -> None:
    port = free_port()
    secret = f"outage-test-{uuid.uuid4().hex}-{uuid.uuid4().hex}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDBACKMESH_")}
    env.update(
        FEEDBACKMESH_DATABASE_URL=settings.database_url.get_secret_value(),  # type: ignore[union-attr]
        FEEDBACKMESH_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",  # nobody listens
        FEEDBACKMESH_PEERS__SENTIMENT=f"127.0.0.1:{free_port()}",
        FEEDBACKMESH_JWT_SECRET=secret,
        FEEDBACKMESH_GRPC_HOST="127.0.0.1",
        FEEDBACKMESH_GRPC_PORT=str(port),
        FEEDBACKMESH_METRICS_PORT="0",
        FEEDBACKMESH_LOG_FORMAT="text",
        FEEDBACKMESH_DRAIN_DELAY_SECONDS="0",
    )
    log = tmp_path / "feedback.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "mesh_app.cli", "serve", "feedback"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    token = mint_token(
        Settings(jwt_secret=secret),
        tenant_id=f"outage-{uuid.uuid4().hex[:8]}",
        user_id="u",
        scopes=DEFAULT_USER_SCOPES,
        ttl_seconds=600,
    )
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            grpc.channel_ready_future(channel).result(timeout=120)
            stub = feedback_pb2_grpc.FeedbackServiceStub(channel)
            for i in range(SUBMISSIONS):
                request = feedback_pb2.SubmitFeedbackRequest(
                    request_id=f"outage-{i}",
                    feedback_type=feedback_pb2.FEEDBACK_TYPE_GENERAL,
                    rating=4,
                )
                stub.SubmitFeedback(request, metadata=bearer_metadata(token), timeout=60)
                time.sleep(0.05)  # each commit wakes the releaser: one publish per release
    finally:
        server.terminate()
        server.wait(timeout=60)
    text = log.read_text(errors="replace")
    assert "serving" in text, text[-2000:]
    published = text.count("publishing 1 events failed")
    assert published == 1, text[-4000:]
    assert text.count("Traceback") <= 2, text[-4000:]
