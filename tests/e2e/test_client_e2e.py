"""The Python client against a real `feedbackmesh up` (issue L): native gRPC through the
Envoy gateway, and a submission retried with its request_id while the FeedbackService
process is killed and restarted by `up`."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import grpc
import pytest
from e2e_helpers import Mesh, pg_rows

from feedbackmesh.client import (
    FeedbackMeshClient,
    FeedbackType,
    Granularity,
    RetryPolicy,
    SentimentLabel,
    SubmitFields,
)
from mesh_runtime.auth import DEFAULT_USER_SCOPES, mint_token
from mesh_runtime.settings import Settings

pytestmark = pytest.mark.e2e
README = Path(__file__).resolve().parents[2] / "clients" / "python" / "README.md"


def token(tenant: str) -> str:
    return mint_token(
        Settings(), tenant_id=tenant, user_id="client-e2e", scopes=DEFAULT_USER_SCOPES
    )


class Recorder(grpc.UnaryUnaryClientInterceptor):
    """Every SubmitFeedback attempt's request_id, as sent on the wire."""

    def __init__(self) -> None:
        self.request_ids: list[str] = []
        self._lock = threading.Lock()

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        if details.method.endswith("/SubmitFeedback"):
            with self._lock:
                self.request_ids.append(request.request_id)
        return continuation(details, request)


def test_every_call_through_the_gateway(mesh: Mesh, tmp_path: Path) -> None:
    tenant = "e2e-client-gateway"
    gateway = urlsplit(mesh.gateway).netloc
    with FeedbackMeshClient(gateway, token=token(tenant), tls=False) as client:
        stored = client.submit(
            feedback_type=FeedbackType.AGENT, agent_id=5, rating=4, comment="Really helpful!"
        )
        assert client.get(stored.id).request_id == stored.request_id
        items: list[SubmitFields] = [
            {"feedback_type": FeedbackType.CHAT, "chat_session_id": f"c{i}", "rating": 3}
            for i in range(30)
        ]
        assert all(r.stored for r in client.batch_submit(items))
        assert len(list(client.list(page_size=4))) == 31
        assert client.export(tmp_path / "feedback.jsonl", format="jsonl").row_count == 31
        assert (
            SentimentLabel(client.analyze_sentiment("I love it").label) == SentimentLabel.POSITIVE
        )
        deadline = time.monotonic() + 60
        while client.ratings_analytics(granularity=Granularity.DAY).total_count != 31:
            assert time.monotonic() < deadline, "analytics never counted the submissions"
            time.sleep(0.5)
        assert client.usage_trends(period="7d").total_submissions == 31
        assert client.ingest_status().backlog == 0
        watch = client.watch_analytics()
        try:
            # Its first event is the current version: the one the answers state.
            assert next(watch).data_version == client.ratings_analytics().data_version > 0
        finally:
            watch.close()


def test_submits_retry_with_their_request_id_across_a_killed_feedback_service(
    mesh: Mesh,
) -> None:
    tenant = "e2e-client-kill"
    before = mesh.process("feedback")
    recorder = Recorder()
    # Patient enough for a restart on a loaded box (about 200 s of retrying).
    patient = RetryPolicy(max_attempts=400, initial_backoff=0.05, max_backoff=0.5)
    total, threads = 150, 6
    results: list[Any] = [None] * total
    errors: list[BaseException] = []
    with FeedbackMeshClient(
        f"127.0.0.1:{before['grpc_port']}",
        token=token(tenant),
        tls=False,
        retry=patient,
        interceptors=[recorder],
    ) as client:

        def submit_share(first: int) -> None:
            try:
                for i in range(first, total, threads):
                    results[i] = client.submit(
                        feedback_type=FeedbackType.EXECUTION, execution_id=i + 1, rating=i % 5 + 1
                    )
            except BaseException as error:  # reported below
                errors.append(error)

        workers = [threading.Thread(target=submit_share, args=(n,)) for n in range(threads)]
        for worker in workers:
            worker.start()
        deadline = time.monotonic() + 60
        while sum(r is not None for r in results) < 20:
            assert time.monotonic() < deadline, "no submissions went through"
            time.sleep(0.01)
        os.kill(before["pid"], signal.SIGKILL)
        for worker in workers:
            worker.join(timeout=300)
    assert not errors, errors
    after = mesh.process("feedback")
    assert after["pid"] != before["pid"] and after["restarts"] == before["restarts"] + 1

    # Every call succeeded; some were sent more than once, each time with its own id.
    assert all(r is not None for r in results)
    attempts = Counter(recorder.request_ids)
    assert set(attempts) == {r.request_id for r in results}
    assert max(attempts.values()) > 1, "the kill interrupted no submission"
    rows = pg_rows(
        mesh.database_url, "SELECT request_id FROM feedback WHERE tenant_id = $1", tenant
    )
    assert sorted(row["request_id"] for row in rows) == sorted(attempts)


def test_the_client_readme_example_runs(mesh: Mesh, tmp_path: Path) -> None:
    tenant = "e2e-client-readme"
    [example] = re.findall(r"## Example\n.*?```python\n(.*?)```", README.read_text(), re.S)
    env = {
        **os.environ,
        "TOKEN": token(tenant),
        "FEEDBACKMESH_TARGET": urlsplit(mesh.gateway).netloc,
    }
    done = subprocess.run(
        [sys.executable, "-c", example], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "1200 stored" in done.stdout and "'rating'" in done.stdout, done.stdout
    assert (tmp_path / "feedback.csv").read_text().endswith("# export complete: 1201 rows\n")
    [row] = pg_rows(mesh.database_url, "SELECT count(*) FROM feedback WHERE tenant_id = $1", tenant)
    assert row[0] == 1 + 1200 + 1000
