"""A ClickHouse that cannot be reached is UNAVAILABLE (retryable), not INTERNAL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from analytics_svc.domain import RangeParams
from analytics_svc.repository import AnalyticsRepository
from analytics_svc.service import AnalyticsService
from mesh_runtime.errors import Unavailable
from mesh_runtime.settings import Settings


async def test_unreachable_clickhouse_is_unavailable() -> None:
    settings = Settings(clickhouse_url=SecretStr("http://127.0.0.1:1/feedbackmesh"))
    repository = AnalyticsRepository(settings)
    service = AnalyticsService(repository, now=lambda: datetime(2025, 1, 1, tzinfo=UTC))
    with pytest.raises(Unavailable):
        await service.usage_trends("tenant-a", RangeParams())
    await repository.close()
