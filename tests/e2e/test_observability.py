"""What an operator scrapes and reads, on a real `feedbackmesh up` (JSON logs): every
service's /metrics is promtool-clean, starts with every RPC x common code at zero, bounds
the tenant label, and exports every metric the dashboards and alerts name.
Tests run in file order (one mesh per module)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

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


def submit(http: httpx.Client, tenant: str, comment: str = "Quick and correct, thanks!") -> str:
    body = {
        "request_id": f"ops-{uuid.uuid4().hex}",
        "feedback_type": "FEEDBACK_TYPE_AGENT",
        "agent_id": "7",
        "rating": 4,
        "comment": comment,
    }
    headers = {"authorization": f"Bearer {token(tenant)}"}
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
