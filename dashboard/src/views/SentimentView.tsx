import { ChartCard, Loadable, Stat } from "../components";
import type { SentimentAnalytics, Theme } from "../lib/api-types";
import { SENTIMENT_KEYS, sentimentRows, sentimentShares } from "../lib/mapping";
import { useApi } from "../useApi";
import { BarSeriesChart, LineSeriesChart } from "./charts";
import type { ViewProps } from "./view";

export function SentimentView({ query, token, refreshKey, onUnauthenticated, granularity }: ViewProps) {
  const state = useApi<SentimentAnalytics>(
    `/v1/analytics/sentiment?${query}`,
    token,
    refreshKey,
    onUnauthenticated,
  );
  return (
    <Loadable
      state={state}
      isEmpty={(d) => SENTIMENT_KEYS.every(({ key }) => d.totals[key] === 0)}
    >
      {(data) => {
        const rows = sentimentRows(data, granularity);
        const shares = sentimentShares(data.totals);
        return (
          <>
            <div className="stats">
              {shares.map((s) => (
                <Stat key={s.key} label={s.label} value={`${s.count} (${s.share}%)`} testId={`sentiment-${s.key}`} />
              ))}
              <Stat
                label="Average score"
                value={data.avg_sentiment_score.toFixed(3)}
                testId="sentiment-average"
              />
            </div>
            <div className="grid">
              <ChartCard
                title="Sentiment per bucket"
                testId="chart-sentiment"
                rows={rows}
                columns={[
                  { key: "date", label: "Bucket" },
                  ...SENTIMENT_KEYS.map(({ key, label }) => ({ key, label })),
                ]}
              >
                <BarSeriesChart
                  rows={rows}
                  xKey="label"
                  series={SENTIMENT_KEYS.map(({ key, label, color }) => ({
                    key,
                    name: label,
                    color,
                    stack: "sentiment",
                  }))}
                  legend
                />
              </ChartCard>
              <ChartCard
                title="Average sentiment score"
                testId="chart-sentiment-score"
                rows={rows}
                columns={[
                  { key: "date", label: "Bucket" },
                  { key: "avgScore", label: "Average score" },
                ]}
              >
                <LineSeriesChart
                  rows={rows}
                  xKey="label"
                  series={[{ key: "avgScore", name: "Average score", color: "#7c3aed" }]}
                  yDomain={[-1, 1]}
                />
              </ChartCard>
              <Themes title="Top positive themes" themes={data.top_positive_themes} testId="themes-positive" />
              <Themes title="Top negative themes" themes={data.top_negative_themes} testId="themes-negative" />
            </div>
          </>
        );
      }}
    </Loadable>
  );
}

function Themes({ title, themes, testId }: { title: string; themes: Theme[]; testId: string }) {
  return (
    <section className="card" data-testid={testId}>
      <h3>{title}</h3>
      {themes.length === 0 ? (
        <p className="muted">No tagged feedback.</p>
      ) : (
        <table className="data-table visible">
          <thead>
            <tr>
              <th>Tag</th>
              <th>Feedback</th>
              <th>Average rating</th>
            </tr>
          </thead>
          <tbody>
            {themes.map((t) => (
              <tr key={t.tag}>
                <td>{t.tag}</td>
                <td>{t.count}</td>
                <td>{t.avg_rating.toFixed(2)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
