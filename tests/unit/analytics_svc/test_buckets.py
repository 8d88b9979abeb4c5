"""Bucket generation and request validation (no servers)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from analytics_svc.buckets import Grain, generate_buckets, split_range, whole_hour_aligned
from analytics_svc.queries import reads
from analytics_svc.window import resolve_window
from mesh_runtime.errors import InvalidArgument

LA = ZoneInfo("America/Los_Angeles")
NOW = datetime(2024, 11, 27, 15, 30, tzinfo=UTC)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_day_buckets_across_spring_forward_in_los_angeles() -> None:
    # 2024-03-10 has 23 hours in Los Angeles: PST (-8) before, PDT (-7) after.
    buckets = generate_buckets(utc(2024, 3, 9, 8), utc(2024, 3, 12, 7), Grain.DAY, LA)
    assert [b.label for b in buckets] == ["2024-03-09", "2024-03-10", "2024-03-11"]
    assert [b.start for b in buckets] == [
        utc(2024, 3, 9, 8),
        utc(2024, 3, 10, 8),
        utc(2024, 3, 11, 7),
    ]
    assert buckets[1].key == date(2024, 3, 10)


def test_hour_buckets_across_fall_back_keep_both_one_oclocks() -> None:
    # 2024-11-03 01:00 happens twice in Los Angeles (PDT, then PST).
    buckets = generate_buckets(utc(2024, 11, 3, 7), utc(2024, 11, 3, 11), Grain.HOUR, LA)
    labels = [b.label for b in buckets]
    assert labels == [
        "2024-11-03 00:00",
        "2024-11-03 01:00",
        "2024-11-03 01:00",
        "2024-11-03 02:00",
    ]
    assert len({b.key for b in buckets}) == 4


def test_partial_first_bucket_starts_at_the_local_boundary() -> None:
    buckets = generate_buckets(utc(2024, 3, 9, 20, 17), utc(2024, 3, 10, 9), Grain.DAY, LA)
    assert [b.label for b in buckets] == ["2024-03-09", "2024-03-10"]
    assert buckets[0].start == utc(2024, 3, 9, 8)


def test_weeks_start_on_monday() -> None:
    # 2024-01-01 is a Monday; 2024-01-10 a Wednesday.
    buckets = generate_buckets(utc(2024, 1, 10), utc(2024, 1, 23), Grain.WEEK, ZoneInfo("UTC"))
    assert [b.label for b in buckets] == ["2024-01-08", "2024-01-15", "2024-01-22"]
    assert all(b.key.weekday() == 0 for b in buckets if isinstance(b.key, date))


def test_month_buckets_cross_the_year() -> None:
    buckets = generate_buckets(utc(2023, 11, 15), utc(2024, 2, 1), Grain.MONTH, ZoneInfo("UTC"))
    assert [b.label for b in buckets] == ["2023-11-01", "2023-12-01", "2024-01-01"]


def test_whole_hour_alignment_decides_rollups() -> None:
    start, end = utc(2024, 3, 1), utc(2024, 4, 1)
    la = generate_buckets(start, end, Grain.DAY, LA)
    assert whole_hour_aligned(la, start, end)
    kolkata = generate_buckets(start, end, Grain.DAY, ZoneInfo("Asia/Kolkata"))
    assert not whole_hour_aligned(kolkata, start, end)
    hours = generate_buckets(start, utc(2024, 3, 2), Grain.HOUR, ZoneInfo("Asia/Kolkata"))
    assert hours[0].label == "2024-03-01 05:00"
    assert not whole_hour_aligned(hours, start, utc(2024, 3, 2))


def test_split_reads_partial_hours_raw() -> None:
    split = split_range(utc(2024, 3, 1, 10, 15), utc(2024, 3, 2, 9, 5), True)
    assert (split.rollup_start, split.rollup_end) == (utc(2024, 3, 1, 11), utc(2024, 3, 2, 9))
    inside_one_hour = split_range(utc(2024, 3, 1, 10, 15), utc(2024, 3, 1, 10, 45), True)
    assert inside_one_hour.rollup_start == inside_one_hour.rollup_end
    raw = split_range(utc(2024, 3, 1), utc(2024, 3, 2), False)
    assert raw.rollup_start == raw.rollup_end == utc(2024, 3, 1)


def test_reads_drop_empty_ranges_and_join_adjacent_ones() -> None:
    # A range and its trend's previous period: the previous period's last partial hour
    # and the range's first one are adjacent, so raw events are read in 3 ranges, not 4.
    start, end = utc(2024, 3, 2, 10, 15), utc(2024, 3, 3, 9, 5)
    current = split_range(start, end, True)
    previous = split_range(start - (end - start), start, True)
    parts, params = reads(current, previous)
    assert parts == (2, 3)
    assert (params["t1_lo"], params["t1_hi"]) == (
        "2024-03-02 10:00:00.000000",
        "2024-03-02 11:00:00.000000",
    )
    assert (params["h0_lo"], params["h1_hi"]) == ("2024-03-01 12:00:00", "2024-03-03 09:00:00")
    # Whole-hour ends: no raw range at all, and the two rollup ranges become one.
    start, end = utc(2024, 3, 2, 10), utc(2024, 3, 3, 9)
    parts, params = reads(
        split_range(start, end, True), split_range(start - (end - start), start, True)
    )
    assert parts == (1, 0)
    assert (params["h0_lo"], params["h0_hi"]) == ("2024-03-01 11:00:00", "2024-03-03 09:00:00")
    # Raw only (no rollups): the whole range.
    assert reads(split_range(start, end, False)) == (
        (0, 1),
        {"t0_lo": "2024-03-02 10:00:00.000000", "t0_hi": "2024-03-03 09:00:00.000000"},
    )


def test_defaults_are_thirty_days_to_the_end_of_today_daily_in_utc() -> None:
    window = resolve_window(None, None, "", Grain.DAY, "", NOW)
    end = utc(2024, 11, 28)  # the end of the current (UTC) day: a cacheable window
    assert (window.start, window.end, window.tz_name) == (end - timedelta(days=30), end, "UTC")
    assert len(window.buckets) == 30
    assert window.buckets[-1].label == "2024-11-27"


@pytest.mark.parametrize(
    ("grain", "tz", "end"),
    [
        (Grain.HOUR, "UTC", utc(2024, 11, 27, 16)),
        (Grain.HOUR, "Asia/Kolkata", utc(2024, 11, 27, 16, 30)),
        (Grain.DAY, "America/Los_Angeles", utc(2024, 11, 28, 8)),
        (Grain.WEEK, "UTC", utc(2024, 12, 2)),
        (Grain.MONTH, "Asia/Kolkata", utc(2024, 11, 30, 18, 30)),
    ],
)
def test_a_range_ending_now_ends_with_the_current_bucket(
    grain: Grain, tz: str, end: datetime
) -> None:
    window = resolve_window(None, None, "", grain, tz, NOW)
    assert window.end == end
    assert window.buckets[-1].start <= NOW < window.end


def test_the_window_ending_now_moves_at_local_midnight() -> None:
    tz = "America/Los_Angeles"  # local midnight = 08:00 UTC in November
    before = resolve_window(None, None, "", Grain.DAY, tz, utc(2024, 11, 27, 7, 59))
    after = resolve_window(None, None, "", Grain.DAY, tz, utc(2024, 11, 27, 8, 1))
    assert before.buckets[-1].label == "2024-11-26"
    assert after.buckets[-1].label == "2024-11-27"
    assert after.end - before.end == timedelta(days=1)


def test_period_is_whole_local_days_and_excludes_start_time() -> None:
    window = resolve_window(None, None, "7d", Grain.DAY, "UTC", NOW)
    assert (window.start, window.end) == (utc(2024, 11, 21), utc(2024, 11, 28))
    with pytest.raises(InvalidArgument) as exc:
        resolve_window(utc(2024, 11, 1), None, "7d", Grain.DAY, "UTC", NOW)
    assert _field(exc) == "period"


def _field(exc: pytest.ExceptionInfo[InvalidArgument]) -> str:
    return exc.value.violations[0].field


@pytest.mark.parametrize(
    ("start", "end", "grain", "tz", "field"),
    [
        (utc(2024, 5, 2), utc(2024, 5, 1), Grain.DAY, "UTC", "end_time"),
        (utc(2024, 5, 1), utc(2024, 5, 1), Grain.DAY, "UTC", "end_time"),
        (utc(2021, 1, 1), utc(2024, 1, 2), Grain.MONTH, "UTC", "start_time"),
        (utc(2023, 1, 1), utc(2024, 1, 1), Grain.HOUR, "UTC", "granularity"),
        (utc(2024, 1, 1), utc(2024, 2, 1), Grain.DAY, "Mars/Olympus_Mons", "time_zone"),
        (utc(2024, 1, 1), utc(2024, 2, 1), Grain.DAY, "../etc/passwd", "time_zone"),
    ],
)
def test_invalid_ranges_name_the_field(
    start: datetime, end: datetime, grain: Grain, tz: str, field: str
) -> None:
    with pytest.raises(InvalidArgument) as exc:
        resolve_window(start, end, "", grain, tz, NOW)
    assert _field(exc) == field


def test_two_years_daily_is_allowed_but_hourly_is_not() -> None:
    start, end = utc(2022, 12, 1), utc(2024, 11, 30)
    assert len(resolve_window(start, end, "", Grain.DAY, "UTC", NOW).buckets) == 730
    with pytest.raises(InvalidArgument) as exc:
        resolve_window(start, end, "", Grain.HOUR, "UTC", NOW)
    assert _field(exc) == "granularity"


def test_usage_window_is_whole_local_days_ending_today() -> None:
    window = resolve_window(None, None, "7d", Grain.DAY, "America/Los_Angeles", NOW)
    labels = [b.label for b in window.buckets]
    assert labels == [f"2024-11-{d}" for d in range(21, 28)]
    assert window.start == utc(2024, 11, 21, 8)
    assert window.end == utc(2024, 11, 28, 8)
    assert window.hour_aligned


def test_usage_window_ending_at_midnight_ends_the_day_before() -> None:
    window = resolve_window(None, utc(2024, 3, 1), "30d", Grain.DAY, "UTC", NOW)
    assert window.buckets[-1].label == "2024-02-29"
    assert len(window.buckets) == 30


def test_usage_window_rejects_unknown_period() -> None:
    with pytest.raises(InvalidArgument) as exc:
        resolve_window(None, None, "14d", Grain.DAY, "UTC", NOW)
    assert _field(exc) == "period"
