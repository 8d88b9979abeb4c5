"""NetworkPolicies of every rendered overlay, evaluated: default deny, then exactly the
flows the mesh needs (a small evaluator of the policy semantics for pods of this
namespace, named and numbered ports, and port-only rules to outside destinations)."""

from __future__ import annotations

from typing import Any

import pytest
from deploy_helpers import KUSTOMIZATIONS, Doc, kustomize, of_kind, selects

OVERLAYS = list(KUSTOMIZATIONS)
OUTSIDE = "outside"  # a destination outside the namespace (a store, a collector)
MONITORING = "monitoring"  # Prometheus, in the monitoring namespace


@pytest.fixture(scope="module", params=OVERLAYS)
def docs(request: pytest.FixtureRequest) -> list[Doc]:
    return kustomize(KUSTOMIZATIONS[request.param])


def _pods(docs: list[Doc]) -> dict[str, tuple[dict[str, str], dict[str, int]]]:
    """Workload name -> (pod labels, container port name -> number)."""
    pods = {}
    for doc in docs:
        if doc["kind"] not in {"Deployment", "Job"}:
            continue
        template = doc["spec"]["template"]
        ports = {
            p["name"]: p["containerPort"]
            for c in template["spec"]["containers"]
            for p in c.get("ports", [])
        }
        pods[doc["metadata"]["name"]] = (template["metadata"]["labels"], ports)
    return pods


def _port_matches(
    rule_ports: list[dict[str, Any]] | None, port: int, named: dict[str, int]
) -> bool:
    if not rule_ports:
        return True
    for rule_port in rule_ports:
        wanted = rule_port.get("port")
        if wanted is None or wanted == port or named.get(str(wanted)) == port:
            return True
    return False


def _peer_matches(peers: list[dict[str, Any]] | None, peer: str, labels: dict[str, str]) -> bool:
    if not peers:
        return True  # no `from`/`to`: any peer
    for entry in peers:
        namespaces = entry.get("namespaceSelector")
        if peer == MONITORING:
            if (
                namespaces
                and namespaces.get("matchLabels", {}).get("kubernetes.io/metadata.name")
                == "monitoring"
            ):
                return True
            continue
        if peer == OUTSIDE:
            if "ipBlock" in entry:
                return True
            continue
        if (
            namespaces is None
            and "podSelector" in entry
            and selects(entry["podSelector"].get("matchLabels", {}), labels)
        ):
            return True
    return False


def allowed(docs: list[Doc], source: str, target: str, port: int | str) -> bool:
    """Whether ``source`` may open a connection to ``target`` on ``port`` (a number, or a
    container port name of the target)."""
    pods = _pods(docs)
    policies = of_kind(docs, "NetworkPolicy")

    def selected(labels: dict[str, str], kind: str) -> list[Doc]:
        return [
            p
            for p in policies
            if kind in p["spec"]["policyTypes"]
            and selects(p["spec"]["podSelector"].get("matchLabels", {}), labels)
        ]

    target_labels, target_ports = pods.get(target, ({}, {}))
    number = target_ports[port] if isinstance(port, str) else port
    if source in pods:
        source_labels, _ = pods[source]
        egress = selected(source_labels, "Egress")
        if not any(
            _peer_matches(rule.get("to"), target if target in pods else OUTSIDE, target_labels)
            and _port_matches(rule.get("ports"), number, target_ports)
            for p in egress
            for rule in p["spec"].get("egress", [])
        ):
            return False
    if target in pods:
        source_labels = pods[source][0] if source in pods else {}
        ingress = selected(target_labels, "Ingress")
        return any(
            _peer_matches(rule.get("from"), source, source_labels)
            and _port_matches(rule.get("ports"), number, target_ports)
            for p in ingress
            for rule in p["spec"].get("ingress", [])
        )
    return True


def test_everything_is_denied_by_default(docs: list[Doc]) -> None:
    deny = [
        p
        for p in of_kind(docs, "NetworkPolicy")
        if p["spec"]["podSelector"] == {} and "ingress" not in p["spec"]
    ]
    assert deny and set(deny[0]["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    assert not any("egress" in p["spec"] for p in deny)


REQUIRED = [
    (OUTSIDE, "envoy", "http"),
    *(("envoy", service, "grpc") for service in ("feedback", "sentiment", "ingest", "analytics")),
    ("feedback", "sentiment", "grpc"),
    ("ingest", "feedback", "grpc"),
    ("feedback", OUTSIDE, 5432),
    ("feedback", OUTSIDE, 6379),
    ("ingest", OUTSIDE, 6379),
    ("ingest", OUTSIDE, 8123),
    ("analytics", OUTSIDE, 8123),
    ("analytics", OUTSIDE, 6379),  # data versions (answer cache) and live updates
    ("feedbackmesh-migrate", OUTSIDE, 5432),
    ("feedbackmesh-migrate", OUTSIDE, 8123),
    *((MONITORING, s, "metrics") for s in ("feedback", "sentiment", "ingest", "analytics")),
    (MONITORING, "envoy", "stats"),
]
FORBIDDEN = [
    (OUTSIDE, "feedback", "grpc"),
    (OUTSIDE, "feedback", "metrics"),  # /metrics shows tenant ids
    (OUTSIDE, "envoy", "stats"),
    ("sentiment", "feedback", "grpc"),
    ("analytics", "feedback", "grpc"),
    ("analytics", "ingest", "grpc"),
    ("envoy", OUTSIDE, 5432),
    ("sentiment", OUTSIDE, 5432),
    ("analytics", OUTSIDE, 5432),
    ("envoy", "feedback", "metrics"),
    ("feedback", "analytics", "grpc"),
]


@pytest.mark.parametrize(("source", "target", "port"), REQUIRED)
def test_the_mesh_flows_are_allowed(docs: list[Doc], source: str, target: str, port: Any) -> None:
    assert allowed(docs, source, target, port)


@pytest.mark.parametrize(("source", "target", "port"), FORBIDDEN)
def test_other_flows_are_denied(docs: list[Doc], source: str, target: str, port: Any) -> None:
    assert not allowed(docs, source, target, port)


def test_every_pod_may_resolve_names(docs: list[Doc]) -> None:
    for name, (labels, _) in _pods(docs).items():
        dns = [
            p
            for p in of_kind(docs, "NetworkPolicy")
            if "Egress" in p["spec"]["policyTypes"]
            and selects(p["spec"]["podSelector"].get("matchLabels", {}), labels)
            and any(
                port.get("port") == 53 for r in p["spec"].get("egress", []) for port in r["ports"]
            )
        ]
        assert dns, name
