"""The answer cache: exact by version, LRU, bounded by its byte budget (pure, no servers)."""

from __future__ import annotations

from prometheus_client import REGISTRY

from analytics_svc.cache import AnswerCache, estimate_bytes
from analytics_svc.domain import UsagePoint, UsageTrends


def _answer(points: int, version: int = 0) -> UsageTrends:
    series = [UsagePoint(f"2026-01-{i % 28 + 1:02d}", i, i) for i in range(points)]
    return UsageTrends(series, [], [], points, points, data_version=version)


def _evictions() -> float:
    return REGISTRY.get_sample_value("analytics_cache_evictions_total") or 0.0


def test_only_the_version_asked_for_is_served() -> None:
    cache: AnswerCache[object] = AnswerCache(1 << 20)
    cache.put("t", ("usage", 1), 5, _answer(3, 5))
    assert cache.get("t", ("usage", 1), 5, "usage") == _answer(3, 5)
    assert cache.get("t", ("usage", 1), 6, "usage") is None  # newer data: recompute
    assert cache.get("t", ("usage", 1), 4, "usage") is None
    assert cache.get("other", ("usage", 1), 5, "usage") is None  # tenants never share
    cache.put("t", ("usage", 1), 7, _answer(4, 7))
    assert len(cache) == 1  # the newer version replaced the older
    cache.put("t", ("usage", 1), 6, _answer(9, 6))  # a slow computation of an older one
    assert cache.get("t", ("usage", 1), 7, "usage") == _answer(4, 7)


def test_memory_stays_within_the_budget_least_recently_used_out() -> None:
    one = estimate_bytes(_answer(30)) + estimate_bytes(("t", ("usage", 0)))
    budget = 10 * one + one // 2
    cache: AnswerCache[object] = AnswerCache(budget)
    evicted = _evictions()
    for i in range(10):
        cache.put("t", ("usage", i), 1, _answer(30))
    assert cache.get("t", ("usage", 0), 1, "usage") is not None  # 0 is now the most recent
    for i in range(10, 25):
        cache.put("t", ("usage", i), 1, _answer(30))
        assert cache.bytes <= budget
    assert len(cache) == 10
    assert _evictions() - evicted == 15
    assert cache.get("t", ("usage", 0), 1, "usage") is None
    assert cache.get("t", ("usage", 24), 1, "usage") is not None
    assert REGISTRY.get_sample_value("analytics_cache_bytes") == cache.bytes


def test_an_answer_larger_than_the_budget_is_not_kept() -> None:
    cache: AnswerCache[object] = AnswerCache(100)
    cache.put("t", "big", 1, _answer(100))
    assert len(cache) == 0 and cache.bytes == 0


def test_the_estimate_grows_with_the_answer() -> None:
    small, large = estimate_bytes(_answer(10)), estimate_bytes(_answer(1000))
    assert 20 * small < large < 100 * small
