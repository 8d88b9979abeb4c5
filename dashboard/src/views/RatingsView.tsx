import { ChartCard, Loadable, Stat } from "../components";
import type { RatingsAnalytics } from "../lib/api-types";
import { distributionRows, isEmptySeries, ratingsRows, trendSummary } from "../lib/mapping";
import { BarSeriesChart, LineSeriesChart } from "./charts";
import { useApi } from "../useApi";
import type { ViewProps } from "./view";

export function RatingsView({ query, token, refreshKey, onUnauthenticated, granularity }: ViewProps) {
  const state = useApi<RatingsAnalytics>(`/v1/analytics/ratings?${query}`, token, refreshKey, onUnauthenticated);
  return (
    <Loadable state={state} isEmpty={(d) => isEmptySeries(d.series)}>
      {(data) => {
        const rows = ratingsRows(data, granularity);
        const distribution = distributionRows(data);
        const trend = trendSummary(data);
        return (
          <>
            <div className="stats">
              <Stat label="Feedback" value={data.total_count} testId="ratings-total" />
              <Stat label="Average rating" value={data.avg_rating.toFixed(2)} testId="ratings-average" />
              <Stat
                label="Change vs previous range"
                testId="ratings-trend"
                value={
                  <span className={`trend ${trend.direction}`}>
                    {trend.countChange >= 0 ? "+" : ""}
                    {trend.countChange}
                    {trend.countChangePercent !== null ? ` (${trend.countChangePercent}%)` : ""}
                    {trend.avgRatingChange !== null
                      ? `, ${trend.avgRatingChange >= 0 ? "+" : ""}${trend.avgRatingChange}★`
                      : ""}
                  </span>
                }
              />
            </div>
            <div className="grid">
              <ChartCard
                title="Average rating"
                testId="chart-avg-rating"
                rows={rows}
                columns={[
                  { key: "date", label: "Bucket" },
                  { key: "avgRating", label: "Average rating" },
                ]}
              >
                <LineSeriesChart
                  rows={rows}
                  xKey="label"
                  series={[{ key: "avgRating", name: "Average rating", color: "#2563eb" }]}
                  yDomain={[1, 5]}
                  yTicks={[1, 2, 3, 4, 5]}
                />
              </ChartCard>
              <ChartCard
                title="Feedback per bucket"
                testId="chart-count"
                rows={rows}
                columns={[
                  { key: "date", label: "Bucket" },
                  { key: "count", label: "Feedback" },
                ]}
              >
                <BarSeriesChart
                  rows={rows}
                  xKey="label"
                  series={[{ key: "count", name: "Feedback", color: "#2563eb" }]}
                />
              </ChartCard>
              <ChartCard
                title="Rating distribution"
                testId="chart-distribution"
                rows={distribution}
                columns={[
                  { key: "rating", label: "Rating" },
                  { key: "count", label: "Feedback" },
                  { key: "share", label: "Share %" },
                ]}
              >
                <BarSeriesChart
                  rows={distribution}
                  xKey="rating"
                  series={[{ key: "count", name: "Feedback", color: "#f59e0b" }]}
                />
              </ChartCard>
            </div>
          </>
        );
      }}
    </Loadable>
  );
}
