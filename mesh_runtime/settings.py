"""The one settings object of the mesh (environment prefix ``FEEDBACKMESH_``).

Built once at start-up (``Settings()``) and passed down; nothing else reads the
environment. URLs and keys are ``SecretStr`` because URLs may carry passwords.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEV_JWT_SECRET = "feedbackmesh-dev-secret-change-me-in-production-0123456789"


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "feedbackmesh"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="FEEDBACKMESH_",
        env_file=None,
        extra="ignore",
        frozen=True,
        # FEEDBACKMESH_PEERS__SENTIMENT=host:port sets peers["sentiment"].
        env_nested_delimiter="__",
    )

    # --- storage -------------------------------------------------------------
    data_dir: Path = Field(default_factory=_default_data_dir)
    # postgresql://user:pass@host:port/db ; None -> embedded PostgreSQL (``up``)
    database_url: SecretStr | None = None
    # redis://host:port/0 ; None -> embedded Valkey (``up``)
    redis_url: SecretStr | None = None
    # http(s)://user:pass@host:8123/db or chdb:///path ; None -> chdb under data_dir
    clickhouse_url: SecretStr | None = None
    clickhouse_database: str = "feedbackmesh"
    # When set, ClickHouse DDL uses ON CLUSTER and Replicated/Distributed engines.
    clickhouse_cluster: str | None = None
    db_pool_size: int = 10
    # Redis pub/sub channel of committed feedback events.
    redis_channel: str = "feedback.submitted"
    # Prefix of the Redis keys and channel of the per-tenant data versions (followed by
    # the ClickHouse database name: meshes sharing a Redis keep apart).
    data_version_redis_prefix: str = "feedbackmesh.data_version"
    # The ingest writer's lease on the published versions: readers trust (and cache by)
    # the versions in Redis only while it is held; a writer that lost Redis waits this
    # long before it inserts unannounced rows.
    data_version_lease_seconds: float = 3.0

    # --- serving -------------------------------------------------------------
    grpc_host: str = "0.0.0.0"
    grpc_port: int | None = None  # None -> the first target's default port (registry)
    metrics_host: str = "0.0.0.0"
    metrics_port: int | None = None  # None -> the first target's default port; 0 -> ephemeral
    grpc_max_message_bytes: int = 16 * 1024 * 1024
    # On SIGTERM: health turns NOT_SERVING, new calls are still served for
    # drain_delay_seconds (load balancers notice), then in-flight calls get
    # drain_grace_seconds to finish.
    drain_delay_seconds: float = 2.0
    drain_grace_seconds: float = 10.0

    # --- peers ---------------------------------------------------------------
    # Service name -> host:port. The composition root fills in every service's default
    # address (mesh_app.registry); FEEDBACKMESH_PEERS__<NAME>=host:port overrides one.
    peers: dict[str, str] = Field(default_factory=dict)
    # How a peer channel spreads calls over the addresses its target resolves to: with a
    # headless Service (dns:///svc-headless:port, one address per pod) round_robin balances
    # every call over every ready pod (bench/README.md, "Balancing").
    peer_lb_policy: Literal["round_robin", "pick_first"] = "round_robin"
    sentiment_timeout_seconds: float = 0.5

    # --- auth ----------------------------------------------------------------
    jwt_algorithm: Literal["HS256", "RS256"] = "HS256"
    jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)  # HS256 signing/verification key
    jwks_file: Path | None = None  # RS256: JWKS with the public keys
    jwt_issuer: str = "feedbackmesh"
    jwt_audience: str = "feedbackmesh"
    # Token the services use for internal calls (outbox pulls, sentiment calls).
    # None with HS256 -> minted from jwt_secret; required with RS256.
    internal_token: SecretStr | None = None
    # HMAC key material of list page tokens; None -> derived from the HS256 secret (or the
    # internal token with RS256).
    page_token_secret: SecretStr | None = None

    # --- gateway -------------------------------------------------------------
    gateway_host: str = "0.0.0.0"
    gateway_port: int = 8080
    envoy_admin_port: int = 9901
    cors_allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["http://localhost:3000"]
    )

    # --- sentiment -----------------------------------------------------------
    sentiment_analyzer: str = "default"

    # --- ingest --------------------------------------------------------------
    # Rows per ClickHouse write (pulled in 10,000-event pages): the sustained drain rate
    # was measured at this size (bench/README.md, "Ingest"); larger batches amortize the
    # per-insert fixed cost further.
    ingest_batch_size: int = 10_000
    ingest_flush_interval_seconds: float = 0.2
    ingest_poll_interval_seconds: float = 2.0

    # --- analytics -----------------------------------------------------------
    # ClickHouse clients the analytics queries share (one chDB client serializes its calls).
    analytics_clickhouse_clients: int = 4
    # Memory bound of the per-replica answer cache (LRU by estimated bytes); 0 disables it.
    analytics_cache_max_bytes: int = 64 * 1024 * 1024
    # WatchAnalytics: keep-alive interval, and open streams per tenant and per process.
    analytics_watch_keepalive_seconds: float = 15.0
    analytics_watch_max_streams_per_tenant: int = 16
    analytics_watch_max_streams: int = 1000

    # --- metrics -------------------------------------------------------------
    # Per-tenant series: these tenants keep their id as a label (comma-separated) ...
    metrics_tenants: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # ... or, when none is named, the first N tenants a process sees; the rest are "other".
    # 0 turns per-tenant labels off.
    metrics_tenant_limit: int = 10

    # --- tracing -------------------------------------------------------------
    # OTLP/gRPC collector (http://host:4317; https:// for TLS). None: no export, spans are
    # non-recording and only carry trace ids into logs and peer calls.
    otlp_endpoint: str | None = None
    otlp_sample_ratio: float = 1.0  # of new traces; a sampled caller's trace is always kept
    otlp_timeout_seconds: float = 10.0

    # --- logging -------------------------------------------------------------
    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"
    # After the first of a run of warnings (or worse) from one line of code, the next are
    # held back for this long and then summarized with their count; 0 logs every one.
    log_repeat_interval_seconds: float = 60.0

    # --- feedbackmesh up -----------------------------------------------------
    # A child that misses its liveness probe (no answer within the timeout) this many
    # times in a row is killed and restarted; probes run every interval.
    up_liveness_interval_seconds: float = 5.0
    up_liveness_timeout_seconds: float = 5.0
    up_liveness_failures: int = 3
    # Logs in data_dir/logs are rotated past this size, keeping this many old copies.
    up_log_max_bytes: int = 20 * 1024 * 1024
    up_log_backups: int = 3

    @field_validator("cors_allowed_origins", "metrics_tenants", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str) and not value.startswith("["):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    def with_peers(self, **addresses: str) -> Settings:
        """A copy whose peers include ``addresses`` (service name -> host:port)."""
        return self.model_copy(update={"peers": {**self.peers, **addresses}})

    def peer(self, name: str) -> str:
        """The address of peer service ``name``."""
        try:
            return self.peers[name]
        except KeyError:
            raise ValueError(
                f"no address for service {name!r}: set FEEDBACKMESH_PEERS__{name.upper()}"
            ) from None

    def page_token_key(self) -> bytes:
        """The key that signs page tokens, derived so that it is never the JWT key itself."""
        if self.page_token_secret is not None:
            material = self.page_token_secret.get_secret_value()
        elif self.jwt_algorithm == "HS256":
            material = self.jwt_secret.get_secret_value()
        elif self.internal_token is not None:
            material = self.internal_token.get_secret_value()
        else:
            raise ValueError("set FEEDBACKMESH_PAGE_TOKEN_SECRET (or FEEDBACKMESH_INTERNAL_TOKEN)")
        return hmac.new(material.encode(), b"feedbackmesh page tokens v1", hashlib.sha256).digest()

    def resolved_clickhouse_url(self) -> str:
        if self.clickhouse_url is not None:
            return self.clickhouse_url.get_secret_value()
        return f"chdb://{self.data_dir / 'clickhouse'}"
