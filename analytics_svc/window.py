"""Request validation: ranges, time zones, granularity and periods -> a query window
(every default resolved to instants, so equal windows are equal requests)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from analytics_svc.buckets import (
    HOUR,
    MAX_BUCKETS,
    Bucket,
    Grain,
    bucket_start_date,
    estimate_buckets,
    floor_local_hour,
    generate_buckets,
    local_midnight,
    next_date,
    whole_hour_aligned,
)
from mesh_runtime.errors import InvalidArgument

DEFAULT_RANGE = timedelta(days=30)
MAX_RANGE = timedelta(days=731)  # two years, one of them a leap year
DEFAULT_TOP_N = 10
MAX_TOP_N = 100
PERIODS = {"7d": 7, "30d": 30, "90d": 90}
DEFAULT_USAGE_PERIOD = "7d"
# The rollups' DateTime columns end in 2106; outside these years input is a typo anyway.
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(2100, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Window:
    start: datetime  # UTC, inclusive
    end: datetime  # UTC, exclusive
    grain: Grain
    tz_name: str
    buckets: list[Bucket]
    # Whether each bucket boundary is a whole UTC hour, so hourly rollups answer exactly.
    hour_aligned: bool

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.tz_name)

    def previous(self) -> tuple[datetime, datetime]:
        """The period of equal length just before this one (for trends)."""
        return self.start - (self.end - self.start), self.start


def parse_time_zone(name: str) -> str:
    if not name:
        return "UTC"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise InvalidArgument.single("time_zone", f"unknown IANA time zone {name!r}") from exc
    return name


def parse_top_n(top_n: int) -> int:
    if top_n == 0:
        return DEFAULT_TOP_N
    if not 0 < top_n <= MAX_TOP_N:
        raise InvalidArgument.single("top_n", f"must be between 1 and {MAX_TOP_N}")
    return top_n


def _check_instant(value: datetime, field: str) -> datetime:
    if not _EARLIEST <= value < _LATEST:
        raise InvalidArgument.single(field, "must be between 1970 and 2100")
    return value.astimezone(UTC)


def current_bucket_end(now: datetime, grain: Grain, tz: ZoneInfo) -> datetime:
    """The end of the bucket holding ``now`` in ``tz``: where a range that ends "now" ends.

    Nothing is created after now (``created_at`` is stamped at submission), so the rest of
    the current bucket adds zeros: the answer equals the one up to now, and it stays the
    same until the data version moves or the next bucket (e.g. the local midnight for
    days) begins, which makes it cacheable and exact."""
    if grain is Grain.HOUR:
        return floor_local_hour(now, tz) + HOUR
    day = bucket_start_date(now.astimezone(tz).date(), grain)
    return local_midnight(next_date(day, grain), tz)


def _period_range(period: str, tz: ZoneInfo, end: datetime) -> tuple[datetime, datetime]:
    """The ``period`` whole local days ending with the day of ``end`` (exclusive: an end at
    local midnight ends the previous day)."""
    days = PERIODS.get(period)
    if days is None:
        raise InvalidArgument.single("period", f"must be one of {', '.join(PERIODS)}")
    last_day: date = (end - timedelta(microseconds=1)).astimezone(tz).date()
    first_day = last_day - timedelta(days=days - 1)
    return local_midnight(first_day, tz), local_midnight(last_day + timedelta(days=1), tz)


def resolve_window(
    start: datetime | None,
    end: datetime | None,
    period: str,
    grain: Grain,
    time_zone: str,
    now: datetime,
    default_period: str = "",
) -> Window:
    """The request's range, validated, with every default resolved to instants: ``period``
    (or ``default_period`` when neither it nor ``start`` is set) gives whole local days;
    otherwise the end defaults to the end of the current bucket and the start to 30 days
    (of the local calendar) before the end."""
    tz_name = parse_time_zone(time_zone)
    tz = ZoneInfo(tz_name)
    if period and start is not None:
        raise InvalidArgument.single("period", "must not be set together with start_time")
    period = period or ("" if start is not None else default_period)
    if period:
        anchor = _check_instant(end if end is not None else now, "end_time")
        start, end = _period_range(period, tz, anchor)
    else:
        end = _check_instant(end if end is not None else current_bucket_end(now, grain, tz),
                             "end_time")  # fmt: skip
        if start is None:
            start = (end.astimezone(tz) - DEFAULT_RANGE).astimezone(UTC)
        start = _check_instant(start, "start_time")
    if end <= start:
        raise InvalidArgument.single("end_time", "must be after start_time")
    if end - start > MAX_RANGE:
        raise InvalidArgument.single("start_time", "the range must not exceed 2 years")
    if estimate_buckets(start, end, grain) > MAX_BUCKETS:
        raise _too_fine(grain)
    buckets = generate_buckets(start, end, grain, tz)
    if len(buckets) > MAX_BUCKETS:
        raise _too_fine(grain)
    aligned = whole_hour_aligned(buckets, start, end)
    return Window(start, end, grain, tz_name, buckets, aligned)


def _too_fine(grain: Grain) -> InvalidArgument:
    return InvalidArgument.single(
        "granularity",
        f"{grain.value} buckets over this range exceed {MAX_BUCKETS}; use a coarser granularity",
    )
