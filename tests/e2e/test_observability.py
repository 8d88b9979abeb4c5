"""What an operator scrapes and reads, on a real `feedbackmesh up` (JSON logs at DEBUG):
every service's /metrics is promtool-clean, starts with every RPC x common code at zero,
bounds the tenant label, and exports every metric the dashboards and alerts name; one
submission's trace id is in the logs of the gateway, feedback, sentiment and ingest.
Tests run in file order (one mesh per module)."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from e2e_helpers import Mesh

from mesh_app import registry
from mesh_runtime.auth import DEFAULT_USER_SCOPES, mint_token
from mesh_runtime.metrics import COMMON_CODES
from mesh_runtime.settings import Settings

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
MESH_ENV = {
    "FEEDBACKMESH_LOG_FORMAT": "json",
    # DEBUG: the services log every RPC, ingest every event (in the event's trace).
    "FEEDBACKMESH_LOG_LEVEL": "DEBUG",
    "FEEDBACKMESH_METRICS_TENANT_LIMIT": "2",
}


def _load_check_monitoring() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "check_monitoring", REPO / "scripts" / "check_monitoring.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("check_monitoring", module)
    spec.loader.exec_module(module)
    return module


check = _load_check_monitoring()


def token(tenant: str) -> str:
    return mint_token(Settings(), tenant_id=tenant, user_id="ops-user", scopes=DEFAULT_USER_SCOPES)


@pytest.fixture(scope="module")
def http(mesh: Mesh) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=mesh.gateway, timeout=30.0) as client:
        yield client


def metrics_pages(mesh: Mesh) -> dict[str, str]:
    """Process name -> its /metrics page."""
    return {
        name: httpx.get(f"http://127.0.0.1:{entry['metrics_port']}/metrics", timeout=10).text
        for name, entry in mesh.status()["processes"].items()
    }


def feedback_process(mesh: Mesh) -> str:
    return str(mesh.process("feedback")["name"])


def submit(
    http: httpx.Client,
    tenant: str,
    comment: str = "Quick and correct, thanks!",
    extra_headers: dict[str, str] | None = None,
) -> str:
    body = {
        "request_id": f"ops-{uuid.uuid4().hex}",
        "feedback_type": "FEEDBACK_TYPE_AGENT",
        "agent_id": "7",
        "rating": 4,
        "comment": comment,
    }
    headers = {"authorization": f"Bearer {token(tenant)}", **(extra_headers or {})}
    reply = http.post("/v1/feedback", json=body, headers=headers)
    assert reply.status_code == 200, reply.text
    return str(reply.json()["id"])


def test_every_rpc_starts_with_every_common_code_at_zero(mesh: Mesh) -> None:
    pages = metrics_pages(mesh)
    for name, entry in mesh.status()["processes"].items():
        page = pages[name]
        for target in entry["targets"]:
            service = registry.spec(target).proto_service
            lines = [line for line in page.splitlines() if f'grpc_service="{service}"' in line]
            handled = [line for line in lines if line.startswith("grpc_server_handled_total{")]
            methods = {line.split('grpc_method="')[1].split('"')[0] for line in handled}
            assert methods, f"{target}: no grpc_server_handled_total series"
            for method in methods:
                codes = {
                    line.split('grpc_code="')[1].split('"')[0]
                    for line in handled
                    if f'grpc_method="{method}"' in line
                }
                assert set(COMMON_CODES) <= codes, (target, method, set(COMMON_CODES) - codes)


def test_metrics_pages_are_promtool_clean_without_created_series(
    mesh: Mesh, http: httpx.Client
) -> None:
    submit(http, "ops-lint")
    for name, page in metrics_pages(mesh).items():
        result = subprocess.run(
            [check.promtool(), "check", "metrics"],
            input=page,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0 and not result.stdout.strip(), (name, result.stdout)
        assert "_created" not in page, name


def test_tenant_label_is_bounded(mesh: Mesh, http: httpx.Client) -> None:
    for tenant in ("ops-a", "ops-b", "ops-c", "ops-d"):
        submit(http, tenant)
    page = metrics_pages(mesh)[feedback_process(mesh)]
    tenants = {
        line.split('tenant_id="')[1].split('"')[0]
        for line in page.splitlines()
        if line.startswith(("feedback_submissions_total{", "feedback_sentiment_score_count{"))
    }
    # The limit's first tenants keep their id (the lint test's tenant was first), the rest
    # are "other".
    assert tenants == {"ops-lint", "ops-a", "other"}


def test_dashboards_and_alerts_name_only_exported_metrics(mesh: Mesh) -> None:
    exported: set[str] = set()
    for page in metrics_pages(mesh).values():
        exported |= check.exported_names(page)
    envoy = httpx.get(f"{mesh.admin}/stats/prometheus", timeout=10).text
    exported |= check.exported_names(envoy)
    queries = [*check.dashboard_queries(), *check.alert_queries()]
    used = set().union(*(check.metric_names(q.expr) for q in queries))
    assert len(used) > 30
    assert check.unknown_names(queries, exported) == {}
    # Sanity: the check does see an unknown name.
    probe = check.Query("probe", "rate(feedback_no_such_metric_total[5m])")
    assert check.unknown_names([probe], exported) == {"probe": {"feedback_no_such_metric_total"}}


def json_lines(path: Path) -> list[dict[str, Any]]:
    lines = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                lines.append(json.loads(line))
    return lines


def test_one_trace_id_across_gateway_feedback_sentiment_and_ingest(
    mesh: Mesh, http: httpx.Client
) -> None:
    trace_id = secrets.token_hex(16)
    traceparent = f"00-{trace_id}-{secrets.token_hex(8)}-01"
    feedback_id = submit(
        http, "ops-trace", "The trace went through!", extra_headers={"traceparent": traceparent}
    )
    logs = {target: Path(mesh.process(target)["log"]) for target in ("feedback", "sentiment")}
    logs["ingest"] = Path(mesh.process("ingest")["log"])
    logs["gateway"] = Path(mesh.status()["envoy"]["log"])

    def traced(target: str) -> list[dict[str, Any]]:
        return [line for line in json_lines(logs[target]) if line.get("trace_id") == trace_id]

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ingested = [line for line in traced("ingest") if line["message"] == "event ingested"]
        if ingested and traced("gateway"):
            break
        time.sleep(0.25)
    assert [line["feedback_id"] for line in ingested] == [int(feedback_id)]
    gateway = traced("gateway")
    assert [line["path"] for line in gateway] == ["/v1/feedback"]
    request_id = gateway[0]["request_id"]
    assert request_id
    feedback = [line for line in traced("feedback") if line["message"] == "rpc"]
    assert [line["grpc_method"] for line in feedback] == [
        "/feedbackmesh.feedback.v1.FeedbackService/SubmitFeedback"
    ]
    sentiment = [line for line in traced("sentiment") if line["message"] == "rpc"]
    assert [line["grpc_method"] for line in sentiment] == [
        "/feedbackmesh.sentiment.v1.SentimentService/BatchAnalyzeSentiment"
    ]
    # Envoy's request id reaches every call it caused.
    assert {line["request_id"] for line in [*feedback, *sentiment]} == {request_id}
    # Every JSON line names its trace and request, null outside one.
    for target in ("feedback", "sentiment", "ingest"):
        for line in json_lines(logs[target]):
            assert "trace_id" in line and "request_id" in line, (target, line)
