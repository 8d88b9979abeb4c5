"""ClickHouse SQL of changed and retracted feedback (used by ingest_svc/repository.py).

The model (docs/architecture.md, "Feedback lifecycle"): feedback_events holds exactly the
live revision of each feedback, and every rollup hour holds exactly the aggregate of the
live rows of that hour. A change's rollup bucket is known without reading anything: the
tenant, type and created_at of a feedback never change, so a change touches the one UTC
hour its feedback was created in. Applying a change is therefore:
1. ``remove_superseded``: lightweight DELETE of that feedback's rows with a lower
   revision (a retraction also records a tombstone, so a late older event is dropped);
2. the ordinary insert of the new revision's row (its views add it to the rollups);
3. ``recompute_hours``: each touched (tenant, hour) of each rollup is deleted and
   rebuilt from the live raw rows with the view's own SELECT. A rebuilt ``uniqExact``
   state is exact: nothing is ever subtracted from one.
Every step is idempotent (2 by its deduplication token, 1 and 3 by construction), so the
journal's verbatim replay after a crash completes a half-applied change.

Only a single server: on a cluster (Distributed tables) the writer refuses changes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from feedbackmesh.feedback.v1 import feedback_pb2
from ingest_svc import events as ev
from ingest_svc.schema import ROLLUPS

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

# A rebuilt block may equal one inserted before (a bucket changed back to an earlier
# state): block deduplication would drop it, and leave the bucket empty.
_REBUILD_SETTINGS = {"insert_deduplicate": 0}
_HOURS = "toUnixTimestamp(toStartOfHour(created_at)) IN {hours:Array(UInt32)}"


def existing_revisions(
    client: Client,
    db: str,
    tenants: list[str],
    days: list[Any],
    ids: list[int],
    dense: bool,
) -> dict[int, int]:
    """The highest revision ClickHouse holds of each of ``ids`` (live rows and
    tombstones): the anti-join that makes redeliveries and stale events no-ops."""
    if dense:
        # Ids come from one PostgreSQL sequence, so a batch is nearly a contiguous range:
        # a range bound costs chDB far less than a long IN list.
        id_filter = "feedback_id BETWEEN {low:UInt64} AND {high:UInt64}"
        params: dict[str, Any] = {"low": min(ids), "high": max(ids)}
    else:
        id_filter = "feedback_id IN {ids:Array(UInt64)}"
        params = {"ids": ids}
    # Fixed fragments; every value is a bind parameter.
    sql = f"""
SELECT feedback_id, max(revision) FROM (
    SELECT feedback_id, revision FROM `{db}`.feedback_events
    WHERE tenant_id IN {{tenants:Array(String)}} AND toDate(created_at) IN {{days:Array(Date)}}
      AND {id_filter}
    UNION ALL
    SELECT feedback_id, revision FROM `{db}`.feedback_tombstones
    WHERE tenant_id IN {{tenants:Array(String)}} AND {id_filter}
) GROUP BY feedback_id"""  # noqa: S608
    result = client.query(sql, parameters={**params, "tenants": tenants, "days": days})
    wanted = set(ids)
    return {int(i): int(r) for i, r in result.result_rows if i in wanted}


def remove_superseded(
    client: Client, db: str, changes: Sequence[feedback_pb2.FeedbackEvent]
) -> None:
    """Deletes the rows the changes supersede (lower revisions only: a replay must not
    delete the new row it already inserted) and records the retractions' tombstones."""
    ids = [event.feedback_id for event in changes]
    client.command(
        f"DELETE FROM `{db}`.feedback_events WHERE tenant_id IN {{tenants:Array(String)}} "  # noqa: S608
        "AND feedback_id IN {ids:Array(UInt64)} "
        "AND revision < arrayElement({revisions:Array(UInt32)}, indexOf({ids:Array(UInt64)}, "
        "feedback_id))",
        parameters={
            "tenants": sorted({event.tenant_id for event in changes}),
            "ids": ids,
            "revisions": [event.revision for event in changes],
        },
    )
    gone = [[e.tenant_id, e.feedback_id, e.revision] for e in changes if e.deleted]
    if gone:
        client.insert(
            "feedback_tombstones", gone, column_names=["tenant_id", "feedback_id", "revision"],
            database=db,
        )  # fmt: skip


def touched_hours(changes: Sequence[feedback_pb2.FeedbackEvent]) -> dict[str, list[int]]:
    hours: dict[str, set[int]] = defaultdict(set)
    for event in changes:
        hours[event.tenant_id].add(ev.hour_of(event))
    return {tenant: sorted(values) for tenant, values in hours.items()}


def recompute_hours(client: Client, db: str, hours: dict[str, list[int]]) -> None:
    """Rebuilds each rollup's (tenant, hour) buckets from the live raw rows."""
    for tenant, tenant_hours in sorted(hours.items()):
        params = {"tenant": tenant, "hours": tenant_hours}
        source = (
            f"(SELECT * FROM `{db}`.feedback_events WHERE tenant_id = {{tenant:String}} "  # noqa: S608
            f"AND {_HOURS})"
        )
        for table, select in ROLLUPS:
            client.command(
                f"DELETE FROM `{db}`.{table} WHERE tenant_id = {{tenant:String}} "  # noqa: S608
                "AND toUnixTimestamp(hour) IN {hours:Array(UInt32)}",
                parameters=params,
            )
            client.command(
                f"INSERT INTO `{db}`.{table} {select.format(source=source)}",
                parameters=params,
                settings=_REBUILD_SETTINGS,
            )
