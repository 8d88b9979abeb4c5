import type { ReactNode } from "react";

import type { ApiState } from "./useApi";

/** Loading / error / empty states around a view's content. */
export function Loadable<T>({
  state,
  isEmpty,
  empty,
  children,
}: {
  state: ApiState<T>;
  isEmpty?: (data: T) => boolean;
  empty?: string;
  children: (data: T) => ReactNode;
}) {
  if (state.status === "loading") {
    return (
      <div className="state" role="status" data-state="loading">
        Loading…
      </div>
    );
  }
  if (state.status === "error") {
    const { error, retryInSeconds, retry } = state;
    return (
      <div className="state error" role="alert" data-state="error" data-status={error.status}>
        {error.kind === "retry" ? (
          <p>
            The mesh is busy or restarting ({error.status === 0 ? "no connection" : `HTTP ${error.status}`}
            ). Retrying in {retryInSeconds ?? "a few"} s…
          </p>
        ) : (
          <p>
            {error.kind === "invalid" ? "The request was refused" : "Something went wrong"}:{" "}
            {error.message}
          </p>
        )}
        <button type="button" onClick={retry}>
          Retry now
        </button>
      </div>
    );
  }
  if (isEmpty?.(state.data)) {
    return (
      <div className="state" data-state="empty">
        {empty ?? "No feedback in this range."}
      </div>
    );
  }
  return <div data-state={state.refreshing ? "refreshing" : "ready"}>{children(state.data)}</div>;
}

export function Stat({ label, value, testId }: { label: string; value: ReactNode; testId: string }) {
  return (
    <div className="stat">
      <div className="stat-label">{label}</div>
      <div className="stat-value" data-testid={testId}>
        {value}
      </div>
    </div>
  );
}

/** A chart with its numbers as a table (for screen readers, and to read the exact values). */
export function ChartCard<Row extends object>({
  title,
  testId,
  rows,
  columns,
  children,
}: {
  title: string;
  testId: string;
  rows: Row[];
  columns: { key: keyof Row & string; label: string }[];
  children: ReactNode;
}) {
  return (
    <figure className="card" data-testid={testId}>
      <figcaption>{title}</figcaption>
      <div className="chart">{children}</div>
      <details>
        <summary>Data</summary>
        <table className="data-table" data-testid={`${testId}-table`}>
          <thead>
            <tr>
              {columns.map((c) => (
                <th key={c.key}>{c.label}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((row, i) => (
              <tr key={i}>
                {columns.map((c) => (
                  <td key={c.key} data-column={c.key}>
                    {formatCell(row[c.key])}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}

function formatCell(value: unknown): string {
  if (value === null || value === undefined) return "";
  return String(value);
}
