"""ClickHouse access for ingestion (synchronous clickhouse-connect: call via to_thread).

Exactly-once rests on three things here, used by ingest_svc/writer.py:
- ``existing_revisions``: the anti-join guard; events no newer than the revision already in
  feedback_events (or its tombstones) are not sent.
- ``insert_events`` with an ``insert_deduplication_token`` that belongs to one journal
  entry, i.e. to one fixed set of rows: a retry of the same rows under the same token is
  dropped by the raw table where it landed and, thanks to
  ``deduplicate_blocks_in_dependent_materialized_views=1``, re-pushed to each view and
  dropped or completed there on its own (a crash between the raw part and a view part
  is repaired, not double counted).
- the journal (``ingest_journal``): 'begin' with the exact events (and their data
  version) before the insert, 'done' after it; a 'begin' without 'done' is replayed
  verbatim at start-up.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from feedbackmesh.feedback.v1 import feedback_pb2
from ingest_svc import events as ev
from ingest_svc import repository_changes as changes
from ingest_svc.schema import EVENT_COLUMNS, REVISION_COLUMN, VERSION_COLUMN
from mesh_runtime.resources import create_clickhouse_client

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

    from mesh_runtime.settings import Settings

_EVENT_TYPES = (
    "UInt64",
    "UInt64",
    "LowCardinality(String)",
    "String",
    "Enum8('execution' = 1, 'agent' = 2, 'chat' = 3, 'general' = 4)",
    "UInt64",
    "UInt64",
    "String",
    "UInt8",
    "Enum8('no_comment' = 0, 'positive' = 1, 'neutral' = 2, 'negative' = 3)",
    "Float64",
    "Array(String)",
    "DateTime64(6, 'UTC')",
    "DateTime64(6, 'UTC')",
    "UInt32",
    "UInt64",
)
_INSERT_COLUMNS = [*EVENT_COLUMNS, REVISION_COLUMN, VERSION_COLUMN]
# Ids per anti-join query: keeps the IN list (and the query text) bounded.
_ANTI_JOIN_CHUNK = 10_000
# A batch whose ids span less than this many times its size is looked up as one range.
_DENSE_SPAN = 4


@dataclass(frozen=True, slots=True)
class JournalEntry:
    token: str
    events: list[feedback_pb2.FeedbackEvent]
    rows: ev.Rows
    # The data version the rows land with (0: an entry journaled before versions existed).
    data_version: int = 0

    @classmethod
    def from_events(
        cls, token: str, events: list[feedback_pb2.FeedbackEvent], data_version: int = 0
    ) -> JournalEntry:
        # Journaled events passed conversion once; the same code gives the same rows.
        live, retractions, bad = ev.split_retractions(events)
        rows, poisoned, sources = ev.convert(live)
        if bad or poisoned or len(sources) != len(live):
            raise ValueError(f"journal entry {token} holds events that no longer convert")
        return cls(token, [*sources, *retractions], rows, data_version)

    @property
    def tenants(self) -> set[str]:
        return {*self.rows.tenants, *(event.tenant_id for event in self.events)}

    @property
    def changes(self) -> list[feedback_pb2.FeedbackEvent]:
        """The events that change or retract a feedback (see repository_changes.py)."""
        return [event for event in self.events if ev.is_change(event)]


def _done_row(token: str) -> list[Any]:
    return [token, "done", 0, "", 0]


def new_token() -> str:
    """A fresh dedup token: one journal entry = one fixed set of rows, never reused."""
    return f"ingest-{uuid.uuid4().hex}"


class ClickHouseRepository:
    """One client, created on first use (ClickHouse may be down at start-up, and the
    database exists only after the migration). chDB serializes a client's calls, so each
    concurrent path gets its own repository."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client_instance: Client | None = None
        self._client_lock = threading.Lock()
        self._db = settings.clickhouse_database
        self._insert_settings: dict[str, Any] = {
            "insert_deduplicate": 1,
            "deduplicate_blocks_in_dependent_materialized_views": 1,
        }
        self.clustered = bool(settings.clickhouse_cluster)
        if settings.clickhouse_cluster:
            # The anti-join must see every accepted row: insert through the
            # Distributed table synchronously.
            self._insert_settings["distributed_foreground_insert"] = 1

    @property
    def _client(self) -> Client:
        with self._client_lock:
            if self._client_instance is None:
                self._client_instance = create_clickhouse_client(self._settings)
            return self._client_instance

    def warm_up(self) -> None:
        """Connects and pays clickhouse-connect's lazy import of pandas (~0.5 s, on its
        first insert) now, at start-up: later it would hold the GIL, and so the event
        loop, in the middle of the first batch."""
        from clickhouse_connect.driver import options

        getattr(options, "pd", None)
        _ = self._client

    def close(self) -> None:
        with self._client_lock:
            if self._client_instance is not None:
                self._client_instance.close()
                self._client_instance = None

    def existing_revisions(
        self, rows: ev.Rows, retractions: list[feedback_pb2.FeedbackEvent]
    ) -> dict[int, int]:
        """The highest revision already in ClickHouse of each feedback of ``rows`` and
        ``retractions`` (the anti-join guard: an event no newer is skipped)."""
        ids = [*rows.ids, *(event.feedback_id for event in retractions)]
        tenants = sorted({*rows.tenants, *(event.tenant_id for event in retractions)})
        days = sorted({*rows.days(), *ev.days_of(retractions)})
        found: dict[int, int] = {}
        if max(ids) - min(ids) < _DENSE_SPAN * len(ids):
            return changes.existing_revisions(self._client, self._db, tenants, days, ids, True)
        for start in range(0, len(ids), _ANTI_JOIN_CHUNK):
            # Scattered ids (a straggler among new ones): a bounded IN list per chunk.
            chunk = ids[start : start + _ANTI_JOIN_CHUNK]
            found |= changes.existing_revisions(self._client, self._db, tenants, days, chunk, False)
        return found

    def remove_superseded(self, events: list[feedback_pb2.FeedbackEvent]) -> None:
        changes.remove_superseded(self._client, self._db, events)

    def recompute_hours(self, events: list[feedback_pb2.FeedbackEvent]) -> None:
        changes.recompute_hours(self._client, self._db, changes.touched_hours(events))

    def journal_begin(self, entry: JournalEntry, done_token: str | None = None) -> None:
        """Records ``entry`` before its insert; ``done_token`` closes the previous entry in
        the same insert (one chDB call instead of two: see Writer._finish)."""
        data = [
            [entry.token, "begin", len(entry.rows), ev.events_to_payload(entry.events),
             entry.data_version]
        ]  # fmt: skip
        if done_token is not None:
            data.append(_done_row(done_token))
        self._journal_insert(data)

    def journal_done(self, token: str) -> None:
        self._journal_insert([_done_row(token)])

    def _journal_insert(self, data: list[list[Any]]) -> None:
        self._client.insert(
            "ingest_journal",
            data,
            column_names=["token", "state", "row_count", "payload", VERSION_COLUMN],
            database=self._db,
        )

    def unfinished_journal(self) -> list[JournalEntry]:
        """The latest entry if it has no 'done'. Only the latest can be unfinished: the
        writer never begins an entry before the previous one is done. (Older 'begin'
        rows whose 'done' the TTL removed first must not be replayed: they are far
        outside the deduplication window.)"""
        latest = self._client.query(
            f"SELECT token FROM `{self._db}`.ingest_journal WHERE state = 'begin' "
            "ORDER BY at DESC LIMIT 1"
        ).result_rows
        if not latest:
            return []
        token = str(latest[0][0])
        # The primary key (token, state) makes both look-ups point reads.
        states = self._client.query(
            f"SELECT state, payload, {VERSION_COLUMN} FROM `{self._db}`.ingest_journal "
            "WHERE token = {token:String}",
            parameters={"token": token},
        ).result_rows
        if any(state == "done" for state, _, _ in states):
            return []
        payload, version = next((str(p), int(v)) for state, p, v in states if state == "begin")
        return [JournalEntry.from_events(token, ev.events_from_payload(payload), version)]

    def insert_events(self, rows: ev.Rows, token: str, data_version: int = 0) -> None:
        self._client.insert(
            "feedback_events",
            [*rows.columns, [data_version] * len(rows)],
            column_oriented=True,
            column_names=_INSERT_COLUMNS,
            column_type_names=list(_EVENT_TYPES),
            database=self._db,
            settings={**self._insert_settings, "insert_deduplication_token": token},
        )

    def park_poison(self, poisoned: Iterable[ev.Poisoned]) -> None:
        data = [
            [p.event.feedback_id, max(p.event.sequence, 0), p.event.tenant_id, p.error,
             ev.event_to_json(p.event)]
            for p in poisoned
        ]  # fmt: skip
        if data:
            self._client.insert(
                "ingest_poison",
                data,
                column_names=["feedback_id", "outbox_sequence", "tenant_id", "error", "payload"],
                database=self._db,
            )

    def data_versions(self) -> tuple[dict[str, int], int]:
        """Every tenant's durable data version, and the highest version ever used (the
        journal included: an entry may have been journaled but not inserted)."""
        versions = {
            str(tenant): int(version)
            for tenant, version in self._client.query(
                f"SELECT tenant_id, max(data_version) FROM `{self._db}`.tenant_data_versions "
                "GROUP BY tenant_id"
            ).result_rows
        }
        journaled = self._client.query(
            f"SELECT max({VERSION_COLUMN}) FROM `{self._db}`.ingest_journal"
        ).result_rows
        floor = max([int(journaled[0][0]) if journaled else 0, *versions.values()])
        return versions, floor

    def record_versions(self, versions: Mapping[str, int]) -> None:
        """Records versions directly (a replayed insert whose rows had already landed
        leaves no new row for the view to see)."""
        self._client.insert(
            "tenant_data_versions",
            [[tenant, version] for tenant, version in versions.items()],
            column_names=["tenant_id", "data_version"],
            database=self._db,
        )

    def count_events(self) -> int:
        result = self._client.query(f"SELECT count() FROM `{self._db}`.feedback_events")
        return int(result.result_rows[0][0])
