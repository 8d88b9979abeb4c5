import { ChartCard, Loadable, Stat } from "../components";
import type { UsageTrends } from "../lib/api-types";
import { isEmptySeries, targetRows, usageRows, type TargetRow } from "../lib/mapping";
import { useApi } from "../useApi";
import { LineSeriesChart } from "./charts";
import type { ViewProps } from "./view";

export function UsageView({ query, token, refreshKey, onUnauthenticated, granularity }: ViewProps) {
  const state = useApi<UsageTrends>(
    `/v1/analytics/usage-trends?${query}`,
    token,
    refreshKey,
    onUnauthenticated,
  );
  return (
    <Loadable state={state} isEmpty={(d) => isEmptySeries(d.series)}>
      {(data) => {
        const rows = usageRows(data, granularity);
        return (
          <>
            <div className="stats">
              <Stat label="Submissions" value={data.total_submissions} testId="usage-submissions" />
              <Stat label="Active users" value={data.total_active_users} testId="usage-users" />
            </div>
            <div className="grid">
              <ChartCard
                title="Submissions and active users"
                testId="chart-usage"
                rows={rows}
                columns={[
                  { key: "date", label: "Bucket" },
                  { key: "submissions", label: "Submissions" },
                  { key: "activeUsers", label: "Active users" },
                ]}
              >
                <LineSeriesChart
                  rows={rows}
                  xKey="label"
                  series={[
                    { key: "submissions", name: "Submissions", color: "#2563eb" },
                    { key: "activeUsers", name: "Active users", color: "#16a34a" },
                  ]}
                  legend
                />
              </ChartCard>
              <TopTable title="Top agents" rows={targetRows(data.top_agents)} testId="top-agents" />
              <TopTable title="Top executions" rows={targetRows(data.top_executions)} testId="top-executions" />
            </div>
          </>
        );
      }}
    </Loadable>
  );
}

function TopTable({ title, rows, testId }: { title: string; rows: TargetRow[]; testId: string }) {
  return (
    <section className="card" data-testid={testId}>
      <h3>{title}</h3>
      {rows.length === 0 ? (
        <p className="muted">None in this period.</p>
      ) : (
        <table className="data-table visible">
          <thead>
            <tr>
              <th>Id</th>
              <th>Feedback</th>
              <th>Average rating</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.id}>
                <td>{r.id}</td>
                <td>{r.count}</td>
                <td>{r.avgRating}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
