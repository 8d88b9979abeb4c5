// API JSON -> chart rows. Bucket dates arrive as wall-clock strings in the requested time
// zone ("YYYY-MM-DD" or "YYYY-MM-DD HH:00"), so labels are formatted from their parts and
// never re-interpreted in the browser's own zone.
import type {
  Feedback,
  FeedbackType,
  Granularity,
  RatingsAnalytics,
  SentimentAnalytics,
  SentimentCounts,
  SentimentLabel,
  TopTarget,
  UsageTrends,
} from "./api-types";

const BUCKET = /^(\d{4})-(\d{2})-(\d{2})(?: (\d{2}):00)?$/;

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** "2026-11-27" -> "Nov 27"; hourly "2026-11-27 14:00" -> "Nov 27 14:00"; months "Nov 2026". */
export function bucketLabel(date: string, granularity: Granularity): string {
  const parts = BUCKET.exec(date);
  if (parts === null) {
    return date;
  }
  const [, year, month, day, hour] = parts;
  const name = MONTHS[Number(month) - 1] ?? month;
  switch (granularity) {
    case "GRANULARITY_MONTH":
      return `${name} ${year}`;
    case "GRANULARITY_HOUR":
      return `${name} ${Number(day)} ${hour ?? "00"}:00`;
    case "GRANULARITY_WEEK":
      return `Week of ${name} ${Number(day)}`;
    case "GRANULARITY_DAY":
      return `${name} ${Number(day)}`;
  }
}

export interface RatingsRow {
  date: string;
  label: string;
  count: number;
  // null for an empty bucket, so the line has a gap instead of a fake drop to 0.
  avgRating: number | null;
}

export function ratingsRows(data: RatingsAnalytics, granularity: Granularity): RatingsRow[] {
  return data.series.map((point) => ({
    date: point.date,
    label: bucketLabel(point.date, granularity),
    count: point.count,
    avgRating: point.count > 0 ? round(point.avg_rating, 2) : null,
  }));
}

export interface DistributionRow {
  rating: string;
  count: number;
  share: number;
}

/** Ratings 1..5, each present, with its share of the total in percent. */
export function distributionRows(data: RatingsAnalytics): DistributionRow[] {
  const counts = new Map(data.distribution.map((d) => [d.rating, d.count]));
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  return [1, 2, 3, 4, 5].map((rating) => {
    const count = counts.get(rating) ?? 0;
    return { rating: `${rating}★`, count, share: total > 0 ? round((100 * count) / total, 1) : 0 };
  });
}

export type Direction = "up" | "down" | "flat";

export interface TrendSummary {
  countChange: number;
  countChangePercent: number | null;
  avgRatingChange: number | null;
  direction: Direction;
}

/** The range against the previous range of equal length; percents are null without a base. */
export function trendSummary(data: RatingsAnalytics): TrendSummary {
  const { trend } = data;
  const direction: Direction =
    trend.count_change > 0 ? "up" : trend.count_change < 0 ? "down" : "flat";
  const bothRated = trend.previous_count > 0 && data.total_count > 0;
  return {
    countChange: trend.count_change,
    countChangePercent: trend.previous_count > 0 ? round(trend.count_change_percent, 1) : null,
    avgRatingChange: bothRated ? round(trend.avg_rating_change, 2) : null,
    direction,
  };
}

export interface SentimentRow extends SentimentCounts {
  date: string;
  label: string;
  avgScore: number | null;
}

export function sentimentRows(data: SentimentAnalytics, granularity: Granularity): SentimentRow[] {
  return data.series.map((point) => {
    const scored = point.positive + point.neutral + point.negative;
    return {
      date: point.date,
      label: bucketLabel(point.date, granularity),
      positive: point.positive,
      neutral: point.neutral,
      negative: point.negative,
      no_comment: point.no_comment,
      avgScore: scored > 0 ? round(point.avg_sentiment_score, 3) : null,
    };
  });
}

export interface SentimentShare {
  key: keyof SentimentCounts;
  label: string;
  count: number;
  share: number;
}

export const SENTIMENT_KEYS: { key: keyof SentimentCounts; label: string; color: string }[] = [
  { key: "positive", label: "Positive", color: "#16a34a" },
  { key: "neutral", label: "Neutral", color: "#94a3b8" },
  { key: "negative", label: "Negative", color: "#dc2626" },
  { key: "no_comment", label: "No comment", color: "#e2e8f0" },
];

export function sentimentShares(totals: SentimentCounts): SentimentShare[] {
  const total = SENTIMENT_KEYS.reduce((sum, { key }) => sum + totals[key], 0);
  return SENTIMENT_KEYS.map(({ key, label }) => ({
    key,
    label,
    count: totals[key],
    share: total > 0 ? round((100 * totals[key]) / total, 1) : 0,
  }));
}

export interface UsageRow {
  date: string;
  label: string;
  submissions: number;
  activeUsers: number;
}

export function usageRows(data: UsageTrends, granularity: Granularity): UsageRow[] {
  return data.series.map((point) => ({
    date: point.date,
    label: bucketLabel(point.date, granularity),
    submissions: point.submissions,
    activeUsers: point.active_users,
  }));
}

export interface TargetRow {
  id: string;
  count: number;
  avgRating: string;
}

export function targetRows(targets: TopTarget[]): TargetRow[] {
  return targets.map((t) => ({ id: t.id, count: t.count, avgRating: t.avg_rating.toFixed(2) }));
}

/** True when a series has no feedback at all (the view shows its empty state). */
export function isEmptySeries(series: { count?: number; submissions?: number }[]): boolean {
  return series.every((p) => (p.count ?? 0) === 0 && (p.submissions ?? 0) === 0);
}

export const FEEDBACK_TYPE_LABELS: Record<FeedbackType, string> = {
  FEEDBACK_TYPE_UNSPECIFIED: "All types",
  FEEDBACK_TYPE_EXECUTION: "Execution",
  FEEDBACK_TYPE_AGENT: "Agent",
  FEEDBACK_TYPE_CHAT: "Chat",
  FEEDBACK_TYPE_GENERAL: "General",
};

export const SENTIMENT_LABELS: Record<SentimentLabel, string> = {
  SENTIMENT_LABEL_UNSPECIFIED: "—",
  SENTIMENT_LABEL_POSITIVE: "Positive",
  SENTIMENT_LABEL_NEUTRAL: "Neutral",
  SENTIMENT_LABEL_NEGATIVE: "Negative",
};

/** An instant (RFC 3339) as wall-clock time in `timeZone`: "2026-11-27 03:18:05". */
export function formatInstant(iso: string, timeZone: string): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) {
    return iso;
  }
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hourCycle: "h23",
  }).formatToParts(at);
  const get = (type: Intl.DateTimeFormatPartTypes): string =>
    parts.find((p) => p.type === type)?.value ?? "";
  return `${get("year")}-${get("month")}-${get("day")} ${get("hour")}:${get("minute")}:${get("second")}`;
}

/** What a feedback is about: "agent 42", "execution 1234", "chat abc", "general". */
export function feedbackTarget(item: Feedback): string {
  switch (item.feedback_type) {
    case "FEEDBACK_TYPE_AGENT":
      return `agent ${item.agent_id}`;
    case "FEEDBACK_TYPE_EXECUTION":
      return `execution ${item.execution_id}`;
    case "FEEDBACK_TYPE_CHAT":
      return `chat ${item.chat_session_id}`;
    default:
      return "general";
  }
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
