import {
  Bar,
  BarChart,
  CartesianGrid,
  Line,
  LineChart,
  Tooltip,
  XAxis,
  YAxis,
} from "recharts";

import { ChartCard, Loadable, Stat } from "../components";
import type { RatingsAnalytics } from "../lib/api-types";
import { distributionRows, isEmptySeries, ratingsRows, trendSummary } from "../lib/mapping";
import { AXIS_TICK, Chart } from "./charts";
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
                <Chart>
                  <LineChart data={rows}>
                    <CartesianGrid strokeDasharray="3 3" />
                    <XAxis dataKey="label" tick={AXIS_TICK} minTickGap={16} />
                    <YAxis domain={[1, 5]} ticks={[1, 2, 3, 4, 5]} tick={AXIS_TICK} width={32} />
                    <Tooltip />
                    <Line
                      type="monotone"
                      dataKey="avgRating"
                      name="Average rating"
                      stroke="#2563eb"
                      strokeWidth={2}
                      dot={rows.length <= 40}
                      isAnimationActive={false}
                    />
                  </LineChart>
                </Chart>
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
                <Chart>
                  <BarChart data={rows}>
                    <CartesianGrid strokeDasharray="3 3" />
                    <XAxis dataKey="label" tick={AXIS_TICK} minTickGap={16} />
                    <YAxis allowDecimals={false} tick={AXIS_TICK} width={40} />
                    <Tooltip />
                    <Bar dataKey="count" name="Feedback" fill="#2563eb" isAnimationActive={false} />
                  </BarChart>
                </Chart>
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
                <Chart>
                  <BarChart data={distribution}>
                    <CartesianGrid strokeDasharray="3 3" />
                    <XAxis dataKey="rating" tick={AXIS_TICK} />
                    <YAxis allowDecimals={false} tick={AXIS_TICK} width={40} />
                    <Tooltip />
                    <Bar dataKey="count" name="Feedback" fill="#f59e0b" isAnimationActive={false} />
                  </BarChart>
                </Chart>
              </ChartCard>
            </div>
          </>
        );
      }}
    </Loadable>
  );
}
