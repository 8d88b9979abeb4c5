// Time ranges in the viewer's time zone: whole buckets, so every bar of a chart covers a
// complete hour / day / week / month and the first bar is not a partial one.
import { TZDate } from "@date-fns/tz";
import {
  addDays,
  addHours,
  addMonths,
  addWeeks,
  startOfDay,
  startOfHour,
  startOfMonth,
  startOfWeek,
  subDays,
  subHours,
  subMonths,
} from "date-fns";

import type { FeedbackType, Granularity } from "./api-types";

export type RangeKey = "24h" | "7d" | "30d" | "90d" | "12m";

interface RangeSpec {
  label: string;
  // The start of the range, before rounding down to a bucket boundary.
  back: (now: TZDate) => TZDate;
  granularities: Granularity[];
  defaultGranularity: Granularity;
}

// The API refuses more than 1,000 buckets: hourly stops at 30 days.
export const RANGES: Record<RangeKey, RangeSpec> = {
  "24h": {
    label: "Last 24 hours",
    back: (now) => subHours(now, 23),
    granularities: ["GRANULARITY_HOUR", "GRANULARITY_DAY"],
    defaultGranularity: "GRANULARITY_HOUR",
  },
  "7d": {
    label: "Last 7 days",
    back: (now) => subDays(now, 6),
    granularities: ["GRANULARITY_HOUR", "GRANULARITY_DAY"],
    defaultGranularity: "GRANULARITY_DAY",
  },
  "30d": {
    label: "Last 30 days",
    back: (now) => subDays(now, 29),
    granularities: ["GRANULARITY_HOUR", "GRANULARITY_DAY", "GRANULARITY_WEEK"],
    defaultGranularity: "GRANULARITY_DAY",
  },
  "90d": {
    label: "Last 90 days",
    back: (now) => subDays(now, 89),
    granularities: ["GRANULARITY_DAY", "GRANULARITY_WEEK", "GRANULARITY_MONTH"],
    defaultGranularity: "GRANULARITY_WEEK",
  },
  "12m": {
    label: "Last 12 months",
    back: (now) => subMonths(now, 11),
    granularities: ["GRANULARITY_DAY", "GRANULARITY_WEEK", "GRANULARITY_MONTH"],
    defaultGranularity: "GRANULARITY_MONTH",
  },
};

export const GRANULARITY_LABELS: Record<Granularity, string> = {
  GRANULARITY_HOUR: "Hour",
  GRANULARITY_DAY: "Day",
  GRANULARITY_WEEK: "Week",
  GRANULARITY_MONTH: "Month",
};

export interface Controls {
  range: RangeKey;
  granularity: Granularity;
  timeZone: string;
  feedbackType: FeedbackType;
}

export function bucketStart(at: TZDate, granularity: Granularity): TZDate {
  switch (granularity) {
    case "GRANULARITY_HOUR":
      return startOfHour(at);
    case "GRANULARITY_DAY":
      return startOfDay(at);
    case "GRANULARITY_WEEK":
      // The API's weeks start on Monday.
      return startOfWeek(at, { weekStartsOn: 1 });
    case "GRANULARITY_MONTH":
      return startOfMonth(at);
  }
}

export function nextBucket(start: TZDate, granularity: Granularity): TZDate {
  switch (granularity) {
    case "GRANULARITY_HOUR":
      return addHours(start, 1);
    case "GRANULARITY_DAY":
      return addDays(start, 1);
    case "GRANULARITY_WEEK":
      return addWeeks(start, 1);
    case "GRANULARITY_MONTH":
      return addMonths(start, 1);
  }
}

/** [start, end) as instants: from the bucket holding `back(now)` to the end of now's bucket. */
export function resolveRange(
  range: RangeKey,
  granularity: Granularity,
  timeZone: string,
  now: Date,
): { start: Date; end: Date } {
  const local = new TZDate(now.getTime(), timeZone);
  const start = bucketStart(RANGES[range].back(local), granularity);
  const end = nextBucket(bucketStart(local, granularity), granularity);
  return { start: new Date(start.getTime()), end: new Date(end.getTime()) };
}

/** A granularity the range allows: the current one if it fits, else the range's default. */
export function fitGranularity(range: RangeKey, granularity: Granularity): Granularity {
  const spec = RANGES[range];
  return spec.granularities.includes(granularity) ? granularity : spec.defaultGranularity;
}

/** RFC 3339 in UTC, whole seconds (the API's timestamps). */
export function rfc3339(at: Date): string {
  return at.toISOString().replace(/\.\d{3}Z$/, "Z");
}

function typeFilter(params: URLSearchParams, feedbackType: FeedbackType): void {
  if (feedbackType !== "FEEDBACK_TYPE_UNSPECIFIED") {
    params.set("feedback_type", feedbackType);
  }
}

/** Query of every analytics view (ratings, sentiment, usage trends) and of their exports:
 * one request shape, so the views and the files cover the same buckets. */
export function analyticsParams(controls: Controls, now: Date): URLSearchParams {
  const { start, end } = resolveRange(controls.range, controls.granularity, controls.timeZone, now);
  const params = new URLSearchParams({
    start_time: rfc3339(start),
    end_time: rfc3339(end),
    granularity: controls.granularity,
    time_zone: controls.timeZone,
  });
  typeFilter(params, controls.feedbackType);
  return params;
}

export function browserTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

/** IANA zones the browser knows, the current one and UTC always included. */
export function timeZoneChoices(current: string): string[] {
  const zones = new Set<string>(["UTC", current]);
  for (const zone of Intl.supportedValuesOf("timeZone")) {
    zones.add(zone);
  }
  return [...zones].sort((a, b) => (a === "UTC" ? -1 : b === "UTC" ? 1 : a.localeCompare(b)));
}
