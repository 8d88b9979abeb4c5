"""Analytics request parameters that need no ClickHouse: time zones and top-N."""

from __future__ import annotations

import pytest

from analytics_svc.window import DEFAULT_TOP_N, MAX_TOP_N, parse_time_zone, parse_top_n
from mesh_runtime.errors import InvalidArgument


def test_time_zone_defaults_to_utc_and_keeps_iana_names() -> None:
    assert parse_time_zone("") == "UTC"
    assert parse_time_zone("America/Los_Angeles") == "America/Los_Angeles"


@pytest.mark.parametrize("name", ["Mars/Olympus", "../etc/passwd", "UTC\x00"])
def test_unknown_time_zones_name_the_field(name: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        parse_time_zone(name)
    assert [v.field for v in refused.value.violations] == ["time_zone"]


def test_top_n_defaults_and_bounds() -> None:
    assert parse_top_n(0) == DEFAULT_TOP_N
    assert parse_top_n(MAX_TOP_N) == MAX_TOP_N
    for bad in (-1, MAX_TOP_N + 1):
        with pytest.raises(InvalidArgument):
            parse_top_n(bad)
