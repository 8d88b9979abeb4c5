"""Alert rules and dashboards, offline: promtool's rule unit tests and parser, and the
provisioning in compose and Kubernetes. (That every metric they name is exported by the
running services is checked against a real ``up`` in tests/e2e/test_observability.py.)"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from deploy_helpers import COMPOSE_FILE, DEPLOY, KUSTOMIZATIONS, REPO, Doc, kustomize

PROMETHEUS_DIR = DEPLOY / "prometheus"
GRAFANA_DIR = DEPLOY / "grafana"


def _load_check_monitoring() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "check_monitoring", REPO / "scripts" / "check_monitoring.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_monitoring"] = module
    spec.loader.exec_module(module)
    return module


check = _load_check_monitoring()


def _alerts() -> list[dict[str, Any]]:
    groups = yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [check.promtool(), *args], capture_output=True, text=True, check=False, cwd=PROMETHEUS_DIR
    )


def test_alert_rules_pass_their_promtool_unit_tests() -> None:
    result = _promtool("test", "rules", "alerts_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def test_prometheus_config_and_rules_are_valid() -> None:
    result = _promtool("check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(_alerts())} rules found" in result.stdout


def test_every_alert_has_a_runbook_a_severity_and_a_firing_test() -> None:
    tests = yaml.safe_load((PROMETHEUS_DIR / "alerts_test.yml").read_text())["tests"]
    fired = {
        case["alertname"]
        for test in tests
        for case in test["alert_rule_test"]
        if case.get("exp_alerts")
    }
    silent = {
        case["alertname"]
        for test in tests
        for case in test["alert_rule_test"]
        if not case.get("exp_alerts")
    }
    for rule in _alerts():
        name = rule["alert"]
        assert name.startswith("FeedbackMesh"), name
        assert rule["labels"]["severity"] in {"critical", "warning"}, name
        runbook = rule["annotations"]["runbook"]
        assert len(runbook) > 40 and "\n" not in runbook.strip(), name
        assert rule["annotations"]["summary"], name
        # Each alert is shown to fire, and shown to stay quiet before (or without) cause.
        assert name in fired, f"{name} has no test that fires it"
        assert name in silent, f"{name} has no test where it stays quiet"


def test_every_dashboard_query_parses() -> None:
    queries = check.dashboard_queries()
    assert len(queries) > 40
    assert check.parse_errors(queries) == ""


def test_the_parse_check_catches_a_broken_query() -> None:
    broken = check.Query("probe", "sum by (le (rate(grpc_server_handled_total[5m]))")
    assert "could not parse expression" in check.parse_errors([broken])


def test_metric_names_are_read_from_promql() -> None:
    expr = (
        'sum by (grpc_method) (rate(grpc_server_handled_total{grpc_code=~"OK|INTERNAL"}[5m]))'
        " / on (grpc_method) group_left sum(feedback_outbox_backlog offset 1h) > bool 0"
        ' and histogram_quantile(0.99, rate(ingest_batch_rows_bucket{le="+Inf"}[1m]))'
    )
    assert check.metric_names(expr) == {
        "grpc_server_handled_total",
        "feedback_outbox_backlog",
        "ingest_batch_rows_bucket",
    }


def _dashboards() -> dict[str, Doc]:
    return {
        path.name: json.loads(path.read_text())
        for path in sorted((GRAFANA_DIR / "dashboards").glob("*.json"))
    }


def test_dashboards_cover_red_ingest_sentiment_and_business() -> None:
    boards = _dashboards()
    assert set(boards) == {
        "feedbackmesh-red.json",
        "feedbackmesh-ingest.json",
        "feedbackmesh-sentiment.json",
        "feedbackmesh-business.json",
    }
    uids = [board["uid"] for board in boards.values()]
    assert len(set(uids)) == len(uids)
    for name, board in boards.items():
        variables = {v["name"]: v for v in board["templating"]["list"]}
        assert variables["datasource"]["type"] == "datasource", name
        for panel in check._panels(board["panels"]):
            for target in panel.get("targets", []):
                assert target["datasource"]["uid"] == "${datasource}", (name, panel["title"])
    red = json.dumps(boards["feedbackmesh-red.json"])
    assert "grpc_server_handled_total" in red and "grpc_server_handling_seconds_bucket" in red
    business = json.dumps(boards["feedbackmesh-business.json"])
    assert "topk($top, sum by (tenant_id)" in business


def test_compose_provisions_grafana_and_loads_the_rules() -> None:
    compose = yaml.safe_load(COMPOSE_FILE.read_text())
    grafana = compose["services"]["grafana"]
    mounts = {v.split(":")[0]: v.split(":")[1] for v in grafana["volumes"]}
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    dashboards_path = mounts["./deploy/grafana/dashboards"]
    provider = yaml.safe_load(
        (GRAFANA_DIR / "provisioning/dashboards/feedbackmesh.yml").read_text()
    )
    assert provider["providers"][0]["options"]["path"] == dashboards_path
    datasource = yaml.safe_load(
        (GRAFANA_DIR / "provisioning/datasources/prometheus.yml").read_text()
    )["datasources"][0]
    assert datasource["type"] == "prometheus" and datasource["url"] == "http://prometheus:9090"
    prometheus = compose["services"]["prometheus"]
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    for rule_file in config["rule_files"]:
        assert (
            f"./deploy/prometheus/{rule_file}:/etc/prometheus/{rule_file}:ro"
            in (prometheus["volumes"])
        )


@pytest.mark.parametrize("overlay", ["base", "dev", "prod"])
def test_kubernetes_ships_dashboards_and_rules_as_configmaps(overlay: str) -> None:
    maps = {
        doc["metadata"]["name"]: doc
        for doc in kustomize(KUSTOMIZATIONS[overlay])
        if doc["kind"] == "ConfigMap"
    }
    dashboards = maps["feedbackmesh-dashboards"]
    assert dashboards["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert {name: json.loads(text) for name, text in dashboards["data"].items()} == _dashboards()
    rules = next(
        doc for name, doc in maps.items() if name.startswith("feedbackmesh-prometheus-rules")
    )
    assert yaml.safe_load(rules["data"]["alerts.yml"])["groups"]
    assert Path(PROMETHEUS_DIR / "alerts.yml").read_text() == rules["data"]["alerts.yml"]
