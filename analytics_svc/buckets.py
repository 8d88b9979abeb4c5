"""Time ranges and chart buckets in an IANA time zone.

A bucket is keyed the way the SQL groups it: local calendar dates for day / week / month
(``toDate`` / ``toMonday`` / ``toStartOfMonth`` in the zone), the UTC epoch second of the
local hour start for hours (two local hours share a label on a DST fall-back day, so the
label cannot be the key).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

MAX_BUCKETS = 1000
HOUR = timedelta(hours=1)


class Grain(enum.Enum):
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"  # weeks start on Monday
    MONTH = "month"


BucketKey = date | int


@dataclass(frozen=True, slots=True)
class Bucket:
    key: BucketKey
    label: str
    start: datetime  # UTC instant of the local bucket start


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The UTC instant at which ``day`` starts in ``tz``."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def bucket_start_date(day: date, grain: Grain) -> date:
    if grain is Grain.WEEK:
        return day - timedelta(days=day.weekday())
    if grain is Grain.MONTH:
        return day.replace(day=1)
    return day


def next_date(day: date, grain: Grain) -> date:
    if grain is Grain.WEEK:
        return day + timedelta(days=7)
    if grain is Grain.MONTH:
        return date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return day + timedelta(days=1)


def estimate_buckets(start: datetime, end: datetime, grain: Grain) -> int:
    """An upper bound of the bucket count, cheap enough to check before generating."""
    span = end - start
    per_bucket = {
        Grain.HOUR: HOUR,
        Grain.DAY: timedelta(days=1),
        Grain.WEEK: timedelta(days=7),
        Grain.MONTH: timedelta(days=28),
    }
    return int(span / per_bucket[grain]) + 2


def generate_buckets(start: datetime, end: datetime, grain: Grain, tz: ZoneInfo) -> list[Bucket]:
    """Every bucket overlapping [start, end), oldest first."""
    if grain is Grain.HOUR:
        first = floor_local_hour(start, tz)
        buckets = []
        cursor = first
        while cursor < end:
            label = cursor.astimezone(tz).strftime("%Y-%m-%d %H:00")
            buckets.append(Bucket(int(cursor.timestamp()), label, cursor))
            cursor += HOUR
        return buckets
    day = bucket_start_date(start.astimezone(tz).date(), grain)
    buckets = []
    while True:
        instant = local_midnight(day, tz)
        if instant >= end:
            break
        buckets.append(Bucket(day, day.isoformat(), instant))
        day = next_date(day, grain)
    return buckets


def floor_local_hour(instant: datetime, tz: ZoneInfo) -> datetime:
    """The UTC instant of the local hour start at or before ``instant``."""
    local = instant.astimezone(tz)
    # Offsets change on local hour boundaries, so stepping back within the hour is safe.
    return instant.astimezone(UTC) - timedelta(
        minutes=local.minute, seconds=local.second, microseconds=local.microsecond
    )


def whole_hour_aligned(buckets: list[Bucket], start: datetime, end: datetime) -> bool:
    """Whether every bucket boundary inside (start, end) falls on a whole UTC hour.

    Then each UTC hour of the range lies in exactly one bucket, so the hourly rollups
    summed per bucket give exact answers (the range ends are handled separately).
    """
    for bucket in buckets:
        if start < bucket.start < end and not _on_hour(bucket.start):
            return False
    return True


def _on_hour(instant: datetime) -> bool:
    return instant.minute == 0 and instant.second == 0 and instant.microsecond == 0


def floor_hour(instant: datetime) -> datetime:
    return instant.replace(minute=0, second=0, microsecond=0)


def ceil_hour(instant: datetime) -> datetime:
    floored = floor_hour(instant)
    return floored if floored == instant else floored + HOUR


@dataclass(frozen=True, slots=True)
class Split:
    """[start, end) split into whole UTC hours [rollup_start, rollup_end) read from the
    hourly rollups and the partial hours around them read from feedback_events.
    ``rollup_start == rollup_end`` means: read everything from feedback_events."""

    start: datetime
    end: datetime
    rollup_start: datetime
    rollup_end: datetime


def split_range(start: datetime, end: datetime, use_rollups: bool) -> Split:
    if use_rollups:
        inner_start, inner_end = ceil_hour(start), floor_hour(end)
        if inner_start < inner_end:
            return Split(start, end, inner_start, inner_end)
    return Split(start, end, start, start)
