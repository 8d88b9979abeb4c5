"""The Redis side of the per-tenant data versions, shared by their writer (the ingest
writer) and their readers (AnalyticsService replicas).

A tenant's data version moves forward whenever rows for that tenant become visible in
ClickHouse. ClickHouse holds the durable record (``tenant_data_versions``); Redis holds
what readers consult on every request:

- ``<ns>:tenant:<tenant_id>`` = ``"<committed> <pending>"``: ``pending`` is set before
  the writer makes rows visible, ``committed`` after; ``committed != pending`` means rows
  may be landing right now. A missing key is version 0 (nothing inserted since versions exist).
- ``<ns>:lease``: held (with a TTL) by the writer while Redis holds all of its versions.
  Readers trust the tenant keys only while it exists; a writer that cannot reach Redis
  waits until its lease has surely expired before it inserts anything unannounced.
- ``<ns>:changes``: a pub/sub channel; each message is ``{"<tenant_id>": <committed>}``
  for the tenants whose version moved (the wake-up of live streams, not the record).

``<ns>`` is ``settings.data_version_redis_prefix`` and the ClickHouse database name.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from mesh_runtime.settings import Settings


@dataclass(frozen=True, slots=True)
class VersionState:
    committed: int = 0
    pending: int = 0

    @property
    def settled(self) -> bool:
        """No rows of this tenant are being made visible right now."""
        return self.committed == self.pending


class DataVersionKeys:
    def __init__(self, settings: Settings) -> None:
        namespace = f"{settings.data_version_redis_prefix}:{settings.clickhouse_database}"
        self.lease = f"{namespace}:lease"
        self.channel = f"{namespace}:changes"
        self._tenant_prefix = f"{namespace}:tenant:"

    def tenant(self, tenant_id: str) -> str:
        return self._tenant_prefix + tenant_id


def encode_state(state: VersionState) -> str:
    return f"{state.committed} {state.pending}"


def decode_state(raw: bytes | str | None) -> VersionState:
    if raw is None:
        return VersionState()
    text = raw.decode("ascii") if isinstance(raw, bytes) else raw
    committed, pending = text.split(" ")
    return VersionState(int(committed), int(pending))


def encode_changes(versions: Mapping[str, int]) -> str:
    return json.dumps(dict(versions), separators=(",", ":"))


def decode_changes(raw: bytes | str) -> dict[str, int]:
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("a data version change must be a JSON object")
    return {str(tenant): int(version) for tenant, version in data.items()}
