"""Kubernetes manifests: schemas, probes, scraping, hardening, secrets, overlays.

Core kinds are validated strictly (unknown fields rejected) with ``kubernetes-validate``
against the oldest and newest Kubernetes it ships schemas for (1.34 and 1.37 here).
PodMonitor is a Prometheus Operator CRD that ``kubernetes-validate`` has no schema for,
so it is checked structurally instead (``check_pod_monitor``).
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from deploy_helpers import (
    K8S,
    KUSTOMIZATIONS,
    SERVICES,
    Doc,
    by_name,
    of_kind,
    selects,
    settings_env_names,
    source_manifests,
)

from mesh_app import __version__, registry
from mesh_app.gateway_deploy import CONFIG_PATH, GATEWAY_DIR
from mesh_runtime.settings import Settings

K8S_VERSIONS = ("1.34.0", kubernetes_validate.latest_version())
CRD_KINDS = {("monitoring.coreos.com/v1", "PodMonitor")}
EXPECTED_KINDS = {
    "ServiceAccount",
    "ConfigMap",
    "Service",
    "Deployment",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "Job",
    "NetworkPolicy",
    "PodMonitor",
}
POD_MONITOR_SPEC_KEYS = {
    "selector",
    "podMetricsEndpoints",
    "namespaceSelector",
    "jobLabel",
    "podTargetLabels",
    "sampleLimit",
}
POD_METRICS_ENDPOINT_KEYS = {"port", "path", "interval", "scrapeTimeout", "scheme", "relabelings"}
SECRET_NAME = "feedbackmesh-secrets"
SENSITIVE_ENV = re.compile(r"(URL|SECRET|TOKEN|PASSWORD|KEY)$")
# The server's drain: health NOT_SERVING for drain_delay, then drain_grace for calls.
DRAIN_DELAY_SECONDS = Settings.model_fields["drain_delay_seconds"].default
DRAIN_GRACE_SECONDS = Settings.model_fields["drain_grace_seconds"].default
GATEWAY = "envoy"


def validate_core(doc: Doc, version: str) -> None:
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = "/".join(str(p) for p in exc.path)
        name = doc.get("metadata", {}).get("name")
        pytest.fail(f"{doc.get('kind')} {name} invalid for k8s {version} at {path}: {exc.message}")


def check_pod_monitor(doc: Doc) -> None:
    name = doc.get("metadata", {}).get("name")
    assert doc["apiVersion"] == "monitoring.coreos.com/v1"
    assert isinstance(name, str) and name, "PodMonitor needs a name"
    spec = doc["spec"]
    assert set(spec) <= POD_MONITOR_SPEC_KEYS, f"PodMonitor {name}: unknown {set(spec)}"
    match = spec["selector"]["matchLabels"]
    assert isinstance(match, dict) and match and all(isinstance(v, str) for v in match.values())
    endpoints = spec["podMetricsEndpoints"]
    assert isinstance(endpoints, list) and endpoints
    for endpoint in endpoints:
        assert set(endpoint) <= POD_METRICS_ENDPOINT_KEYS, f"PodMonitor {name}: {set(endpoint)}"
        assert isinstance(endpoint["port"], str) and endpoint["port"]
        assert str(endpoint.get("path", "/metrics")).startswith("/")


def check_manifest(doc: Doc, version: str) -> None:
    if (doc.get("apiVersion"), doc.get("kind")) in CRD_KINDS:
        check_pod_monitor(doc)
    else:
        validate_core(doc, version)


def pod_spec(workload: Doc) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def container(workload: Doc) -> dict[str, Any]:
    containers = pod_spec(workload)["containers"]
    assert len(containers) == 1, f"{workload['metadata']['name']}: one container expected"
    first: dict[str, Any] = containers[0]
    return first


def ports(workload: Doc) -> dict[str, int]:
    return {p["name"]: p["containerPort"] for p in container(workload)["ports"]}


def env(workload: Doc) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container(workload).get("env", [])}


# --------------------------------------------------------------------------- schemas


@pytest.mark.parametrize("name", list(KUSTOMIZATIONS))
def test_kustomize_renders(renders: dict[str, list[Doc]], name: str) -> None:
    kinds = {doc["kind"] for doc in renders[name]}
    expected = EXPECTED_KINDS | ({"Namespace"} if name != "base" else set())
    assert kinds == expected


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("name", list(KUSTOMIZATIONS))
def test_rendered_manifests_validate(
    renders: dict[str, list[Doc]], name: str, version: str
) -> None:
    for doc in renders[name]:
        check_manifest(doc, version)


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_source_manifests_validate(version: str) -> None:
    docs = list(source_manifests())
    assert len(docs) >= 20
    for _path, doc in docs:
        check_manifest(doc, version)


def test_validation_is_strict(renders: dict[str, list[Doc]]) -> None:
    deployment = copy.deepcopy(by_name(renders["base"], "Deployment")["feedback"])
    container(deployment)["readinessProbe"]["grpc"]["prot"] = 50051
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSIONS[-1], strict=True)
    monitor = copy.deepcopy(by_name(renders["base"], "PodMonitor")["feedback"])
    monitor["spec"]["podMetricsEndpoint"] = monitor["spec"].pop("podMetricsEndpoints")
    with pytest.raises((AssertionError, KeyError)):
        check_pod_monitor(monitor)


# ----------------------------------------------------------- probes, ports, scraping


@pytest.mark.parametrize("name", list(KUSTOMIZATIONS))
def test_every_grpc_port_has_health_probes(renders: dict[str, list[Doc]], name: str) -> None:
    deployments = by_name(renders[name], "Deployment")
    assert set(deployments) == {*SERVICES, GATEWAY}
    for svc in SERVICES:
        c = container(deployments[svc])
        grpc_port = registry.spec(svc).grpc_port
        assert ports(deployments[svc])["grpc"] == grpc_port
        assert c["args"] == ["serve", svc]
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert c[probe]["grpc"]["port"] == grpc_port, f"{svc} {probe}"
        assert env(deployments[svc])["FEEDBACKMESH_GRPC_PORT"]["value"] == str(grpc_port)
    # Envoy: no gRPC port of its own. Alive: the stats listener's /ready (Envoy itself);
    # ready: the gateway's /readyz (every service behind it has a healthy pod).
    envoy = container(deployments[GATEWAY])
    assert envoy["livenessProbe"]["httpGet"] == {"path": "/ready", "port": "stats"}
    assert envoy["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert ports(deployments[GATEWAY])["http"] == 8080


@pytest.mark.parametrize("name", list(KUSTOMIZATIONS))
def test_every_workload_exposes_metrics_and_is_scraped(
    renders: dict[str, list[Doc]], name: str
) -> None:
    docs = renders[name]
    deployments = by_name(docs, "Deployment")
    monitors = of_kind(docs, "PodMonitor")
    expected_ports = {svc: ("metrics", registry.spec(svc).metrics_port) for svc in SERVICES}
    expected_ports[GATEWAY] = ("stats", 9902)
    for svc, (port_name, port) in expected_ports.items():
        deployment = deployments[svc]
        assert ports(deployment)[port_name] == port
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/port"] == str(port)
        path = "/stats/prometheus" if svc == GATEWAY else "/metrics"
        assert annotations["prometheus.io/path"] == path
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        scraping = [
            endpoint
            for monitor in monitors
            if selects(monitor["spec"]["selector"]["matchLabels"], labels)
            for endpoint in monitor["spec"]["podMetricsEndpoints"]
        ]
        assert scraping == [{"port": port_name, "path": path, "interval": "15s"}], svc
        if svc != GATEWAY:
            assert env(deployment)["FEEDBACKMESH_METRICS_PORT"]["value"] == str(port)
    # Every PodMonitor selects exactly one workload.
    for monitor in monitors:
        match = monitor["spec"]["selector"]["matchLabels"]
        hits = [
            d
            for d in deployments.values()
            if selects(match, d["spec"]["template"]["metadata"]["labels"])
        ]
        assert len(hits) == 1, monitor["metadata"]["name"]


@pytest.mark.parametrize("name", list(KUSTOMIZATIONS))
def test_services_route_to_named_ports(renders: dict[str, list[Doc]], name: str) -> None:
    docs = renders[name]
    deployments = by_name(docs, "Deployment")
    services = by_name(docs, "Service")
    for svc in SERVICES:
        pod_labels = deployments[svc]["spec"]["template"]["metadata"]["labels"]
        for service_name in (svc, f"{svc}-headless"):
            service = services[service_name]
            assert selects(service["spec"]["selector"], pod_labels)
            by_port = {p["name"]: p for p in service["spec"]["ports"]}
            assert by_port["grpc"]["port"] == registry.spec(svc).grpc_port
            assert by_port["grpc"]["targetPort"] == "grpc"
        assert services[f"{svc}-headless"]["spec"]["clusterIP"] == "None"
        assert {p["name"] for p in services[svc]["spec"]["ports"]} == {"grpc", "metrics"}
    gateway = services[GATEWAY]
    assert [p["port"] for p in gateway["spec"]["ports"]] == [8080]


@pytest.mark.parametrize("name", list(KUSTOMIZATIONS))
def test_hpa_and_pdb_per_deployment(renders: dict[str, list[Doc]], name: str) -> None:
    docs = renders[name]
    hpas = {
        h["spec"]["scaleTargetRef"]["name"]: h for h in of_kind(docs, "HorizontalPodAutoscaler")
    }
    pdbs = of_kind(docs, "PodDisruptionBudget")
    for deployment_name, deployment in by_name(docs, "Deployment").items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        matching = [p for p in pdbs if selects(p["spec"]["selector"]["matchLabels"], labels)]
        assert len(matching) == 1, deployment_name
        # maxUnavailable, not minAvailable: a single-replica pod must not block drains.
        assert matching[0]["spec"]["maxUnavailable"] == 1
        if deployment_name == "ingest":
            # The single writer: one replica, never two during a rollout, no HPA.
            assert deployment["spec"]["replicas"] == 1
            assert deployment["spec"]["strategy"] == {"type": "Recreate"}
            assert "ingest" not in hpas
            continue
        # The HPA owns the replica count; a fixed one would fight it on every apply.
        assert "replicas" not in deployment["spec"], deployment_name
        hpa = hpas[deployment_name]
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert hpa["spec"]["scaleTargetRef"]["kind"] == "Deployment"
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]


def test_prod_runs_several_replicas_of_the_stateless_services(
    renders: dict[str, list[Doc]],
) -> None:
    hpas = by_name(renders["prod"], "HorizontalPodAutoscaler")
    for name in ("feedback", "sentiment", "analytics", GATEWAY):
        assert hpas[name]["spec"]["minReplicas"] >= 3
    for hpa in by_name(renders["dev"], "HorizontalPodAutoscaler").values():
        assert hpa["spec"]["minReplicas"] == 1


# ------------------------------------------------------------------------- hardening


@pytest.mark.parametrize("name", list(KUSTOMIZATIONS))
def test_pods_are_hardened(renders: dict[str, list[Doc]], name: str) -> None:
    workloads = of_kind(renders[name], "Deployment") + of_kind(renders[name], "Job")
    assert len(workloads) == len(SERVICES) + 2
    for workload in workloads:
        wname = workload["metadata"]["name"]
        spec = pod_spec(workload)
        assert spec["securityContext"]["runAsNonRoot"] is True, wname
        assert spec["securityContext"]["runAsUser"] != 0, wname
        assert spec["automountServiceAccountToken"] is False, wname
        c = container(workload)
        sc = c["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True, wname
        assert sc["allowPrivilegeEscalation"] is False, wname
        assert sc["capabilities"]["drop"] == ["ALL"], wname
        mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert "emptyDir" in volumes[mounts["/tmp"]], f"{wname}: /tmp must be an emptyDir"
        resources = c["resources"]
        assert {"cpu", "memory"} <= set(resources["requests"]), wname
        assert {"cpu", "memory"} <= set(resources["limits"]), wname


@pytest.mark.parametrize("name", list(KUSTOMIZATIONS))
def test_graceful_termination_outlasts_the_drain(renders: dict[str, list[Doc]], name: str) -> None:
    configmap = by_name(renders[name], "ConfigMap")
    settings = next(c for n, c in configmap.items() if n.startswith("feedbackmesh-config"))
    data = settings["data"]
    drain = float(data.get("FEEDBACKMESH_DRAIN_DELAY_SECONDS", DRAIN_DELAY_SECONDS)) + float(
        data.get("FEEDBACKMESH_DRAIN_GRACE_SECONDS", DRAIN_GRACE_SECONDS)
    )
    for deployment in of_kind(renders[name], "Deployment"):
        if deployment["metadata"]["name"] == GATEWAY:
            continue  # Envoy drains with a hook: tests/deploy/test_deploy_release.py
        pre_stop = container(deployment)["lifecycle"]["preStop"]["sleep"]["seconds"]
        grace = pod_spec(deployment)["terminationGracePeriodSeconds"]
        assert grace > pre_stop + drain, deployment["metadata"]["name"]


# --------------------------------------------------------------------------- secrets


@pytest.mark.parametrize("name", list(KUSTOMIZATIONS))
def test_secrets_only_by_reference(renders: dict[str, list[Doc]], name: str) -> None:
    docs = renders[name]
    assert not of_kind(docs, "Secret"), "no Secret with values in the manifests"
    for configmap in of_kind(docs, "ConfigMap"):
        for key in configmap.get("data", {}):
            assert not SENSITIVE_ENV.search(key), f"{key} belongs in the Secret"
    referenced: set[str] = set()
    for workload in of_kind(docs, "Deployment") + of_kind(docs, "Job"):
        for var_name, var in env(workload).items():
            if SENSITIVE_ENV.search(var_name):
                ref = var["valueFrom"]["secretKeyRef"]
                assert ref["name"] == SECRET_NAME, var_name
                referenced.add(ref["key"])
            else:
                assert "value" in var, var_name
        for volume in pod_spec(workload).get("volumes", []):
            if "secret" in volume:
                assert volume["secret"]["secretName"] == SECRET_NAME
                referenced |= {item["key"] for item in volume["secret"]["items"]}
    # The keys deploy/README.md tells operators to create.
    assert referenced == {
        "database-url",
        "redis-url",
        "clickhouse-url",
        "jwt-secret",
        "gateway-jwks.json",
    }
    readme = (K8S.parent / "README.md").read_text(encoding="utf-8")
    for key in referenced:
        assert key in readme, f"deploy/README.md does not mention secret key {key}"


def test_every_env_var_is_a_setting(renders: dict[str, list[Doc]]) -> None:
    known = settings_env_names()
    for docs in renders.values():
        names: set[str] = set()
        for configmap in of_kind(docs, "ConfigMap"):
            if configmap["metadata"]["name"].startswith("feedbackmesh-config"):
                names |= set(configmap["data"])
        for workload in of_kind(docs, "Deployment") + of_kind(docs, "Job"):
            names |= {n for n in env(workload) if n.startswith("FEEDBACKMESH_")}
        assert names, "no settings found"
        assert names <= known, f"not settings: {sorted(names - known)}"


# ------------------------------------------------------------------ overlays, job, envoy


def test_overlay_namespaces_and_images(renders: dict[str, list[Doc]]) -> None:
    assert not of_kind(renders["base"], "Namespace")
    for name, namespace in (("dev", "feedbackmesh-dev"), ("prod", "feedbackmesh")):
        docs = renders[name]
        ns = of_kind(docs, "Namespace")
        assert [n["metadata"]["name"] for n in ns] == [namespace]
        assert ns[0]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
        for doc in docs:
            if doc["kind"] != "Namespace":
                assert doc["metadata"]["namespace"] == namespace, doc["metadata"]["name"]
    prod_images = {
        container(d)["image"]
        for d in of_kind(renders["prod"], "Deployment") + of_kind(renders["prod"], "Job")
    }
    assert f"registry.example.com/feedbackmesh:{__version__}" in prod_images
    assert not any(image.endswith(":latest") for image in prod_images if "feedbackmesh" in image)


def test_only_prod_uses_a_clickhouse_cluster(renders: dict[str, list[Doc]]) -> None:
    def settings(name: str) -> dict[str, str]:
        configmaps = by_name(renders[name], "ConfigMap")
        data: dict[str, str] = next(
            c["data"] for n, c in configmaps.items() if n.startswith("feedbackmesh-config")
        )
        return data

    assert settings("prod")["FEEDBACKMESH_CLICKHOUSE_CLUSTER"]
    assert "FEEDBACKMESH_CLICKHOUSE_CLUSTER" not in settings("dev")
    assert "FEEDBACKMESH_CLICKHOUSE_CLUSTER" not in settings("base")


@pytest.mark.parametrize("name", list(KUSTOMIZATIONS))
def test_migration_job(renders: dict[str, list[Doc]], name: str) -> None:
    jobs = of_kind(renders[name], "Job")
    assert len(jobs) == 1
    job = jobs[0]
    assert container(job)["args"] == ["migrate"]
    assert pod_spec(job)["restartPolicy"] in {"Never", "OnFailure"}
    assert {"FEEDBACKMESH_DATABASE_URL", "FEEDBACKMESH_CLICKHOUSE_URL"} <= set(env(job))
    assert job["spec"]["backoffLimit"] >= 1


@pytest.mark.parametrize("name", list(KUSTOMIZATIONS))
def test_envoy_uses_the_rendered_config(renders: dict[str, list[Doc]], name: str) -> None:
    """The gateway-config init container (feedbackmesh image, the deployment's settings)
    writes Envoy's config and the dashboard into an emptyDir that Envoy reads."""
    docs = renders[name]
    envoy = by_name(docs, "Deployment")[GATEWAY]
    volumes = {v["name"]: v for v in pod_spec(envoy)["volumes"]}
    assert "emptyDir" in volumes["gateway"]
    (init,) = pod_spec(envoy)["initContainers"]
    assert init["args"] == ["gateway-config", "--target", "k8s"]
    assert init["image"].split(":")[0].endswith("feedbackmesh")
    config_map = init["envFrom"][0]["configMapRef"]["name"]
    # Hash-suffixed by the generator, so a settings change rolls the pods.
    assert re.fullmatch(r"feedbackmesh-config-[a-z0-9]{10}", config_map)
    literals = by_name(docs, "ConfigMap")[config_map]["data"]
    assert literals["FEEDBACKMESH_CORS_ALLOWED_ORIGINS"]
    init_mounts = {m["name"]: m["mountPath"] for m in init["volumeMounts"]}
    assert init_mounts["gateway"] == str(GATEWAY_DIR)
    args = container(envoy)["args"]
    assert args[args.index("--config-path") + 1] == str(CONFIG_PATH)
    mounts = {m["name"]: m["mountPath"] for m in container(envoy)["volumeMounts"]}
    assert mounts["gateway"] == str(GATEWAY_DIR)
    jwks_item = volumes["jwks"]["secret"]["items"]
    assert [Path(mounts["jwks"]) / i["path"] for i in jwks_item] == [
        Path("/run/secrets/feedbackmesh/jwks.json")
    ]
