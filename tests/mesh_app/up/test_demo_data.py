"""How ``feedbackmesh demo-data`` splits its feedback over the tenants it announces."""

from __future__ import annotations

from collections import Counter

from mesh_app.up.demo_data import tenant_batches


def test_every_announced_tenant_gets_its_share() -> None:
    batches = list(tenant_batches(["demo", "acme", "globex"], 200, 100))
    totals: Counter[str] = Counter()
    for tenant, size in batches:
        assert 1 <= size <= 100
        totals[tenant] += size
    assert totals == {"demo": 67, "acme": 67, "globex": 66}
    # Interleaved: every tenant has data after the first round.
    assert [tenant for tenant, _ in batches[:3]] == ["demo", "acme", "globex"]


def test_small_counts_still_reach_every_tenant() -> None:
    assert list(tenant_batches(["a", "b"], 3, 500)) == [("a", 2), ("b", 1)]
