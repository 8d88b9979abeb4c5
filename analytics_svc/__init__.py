"""AnalyticsService: exact, chart-ready analytics over the ClickHouse rollups."""
