// Query strings of the feedback list and of the exports, from the controls and filters.
import type { SentimentLabel } from "./api-types";
import { analyticsParams, resolveRange, rfc3339, type Controls } from "./range";

export interface ListFilters {
  minRating: number; // 0 = any
  maxRating: number; // 0 = any
  sentiment: SentimentLabel;
  tag: string;
  agentId: string;
  executionId: string;
  chatSessionId: string;
  userId: string;
}

export const NO_FILTERS: ListFilters = {
  minRating: 0,
  maxRating: 0,
  sentiment: "SENTIMENT_LABEL_UNSPECIFIED",
  tag: "",
  agentId: "",
  executionId: "",
  chatSessionId: "",
  userId: "",
};

export const PAGE_SIZE = 25;

/** The list's filters; the range is the controls' (created_at in [start, end)). */
export function feedbackFilterParams(
  filters: ListFilters,
  controls: Controls,
  now: Date,
): URLSearchParams {
  const { start, end } = resolveRange(controls.range, controls.granularity, controls.timeZone, now);
  const params = new URLSearchParams({ start_time: rfc3339(start), end_time: rfc3339(end) });
  if (controls.feedbackType !== "FEEDBACK_TYPE_UNSPECIFIED") {
    params.set("feedback_type", controls.feedbackType);
  }
  if (filters.minRating > 0) params.set("min_rating", String(filters.minRating));
  if (filters.maxRating > 0) params.set("max_rating", String(filters.maxRating));
  if (filters.sentiment !== "SENTIMENT_LABEL_UNSPECIFIED") params.set("sentiment", filters.sentiment);
  const text: [keyof ListFilters, string][] = [
    ["tag", "tag"],
    ["agentId", "agent_id"],
    ["executionId", "execution_id"],
    ["chatSessionId", "chat_session_id"],
    ["userId", "user_id"],
  ];
  for (const [key, name] of text) {
    const value = String(filters[key]).trim();
    if (value !== "") params.set(name, value);
  }
  return params;
}

export function feedbackListPath(
  filters: ListFilters,
  controls: Controls,
  now: Date,
  pageToken: string,
): string {
  const params = feedbackFilterParams(filters, controls, now);
  params.set("page_size", String(PAGE_SIZE));
  if (pageToken !== "") params.set("page_token", pageToken);
  return `/v1/feedback?${params}`;
}

export type ExportKind = "feedback-csv" | "feedback-jsonl" | "ratings" | "sentiment" | "usage-trends";

export interface ExportSpec {
  kind: ExportKind;
  label: string;
  // Used when the answer names no file.
  fallbackName: string;
}

export const EXPORTS: ExportSpec[] = [
  { kind: "feedback-csv", label: "Feedback (CSV)", fallbackName: "feedback.csv" },
  { kind: "feedback-jsonl", label: "Feedback (JSON Lines)", fallbackName: "feedback.jsonl" },
  { kind: "ratings", label: "Ratings (CSV)", fallbackName: "ratings.csv" },
  { kind: "sentiment", label: "Sentiment (CSV)", fallbackName: "sentiment.csv" },
  { kind: "usage-trends", label: "Usage trends (CSV)", fallbackName: "usage-trends.csv" },
];

/** The export of `kind` for the same range and filters the views show. */
export function exportPath(
  kind: ExportKind,
  controls: Controls,
  filters: ListFilters,
  now: Date,
): string {
  switch (kind) {
    case "feedback-csv":
    case "feedback-jsonl": {
      const params = feedbackFilterParams(filters, controls, now);
      params.set("format", kind === "feedback-csv" ? "csv" : "jsonl");
      return `/v1/feedback:export?${params}`;
    }
    case "ratings":
    case "sentiment":
    case "usage-trends":
      return `/v1/analytics/${kind}:export?${analyticsParams(controls, now)}`;
  }
}
