import { describe, expect, it } from "vitest";

import { exportPath, feedbackListPath, NO_FILTERS } from "./queries";
import type { Controls } from "./range";

const controls: Controls = {
  range: "7d",
  granularity: "GRANULARITY_DAY",
  timeZone: "America/Los_Angeles",
  feedbackType: "FEEDBACK_TYPE_UNSPECIFIED",
};
const now = new Date("2026-11-27T02:18:05Z");

const query = (path: string): Record<string, string> =>
  Object.fromEntries(new URLSearchParams(path.split("?")[1]));

describe("feedback list", () => {
  it("pages through the range of the controls, filters only when set", () => {
    expect(query(feedbackListPath(NO_FILTERS, controls, now, ""))).toEqual({
      start_time: "2026-11-20T08:00:00Z",
      end_time: "2026-11-27T08:00:00Z",
      page_size: "25",
    });
    const filters = {
      ...NO_FILTERS,
      minRating: 4,
      sentiment: "SENTIMENT_LABEL_NEGATIVE" as const,
      tag: " speed ",
      agentId: "42",
    };
    const typed = { ...controls, feedbackType: "FEEDBACK_TYPE_AGENT" as const };
    expect(query(feedbackListPath(filters, typed, now, "abc"))).toMatchObject({
      feedback_type: "FEEDBACK_TYPE_AGENT",
      min_rating: "4",
      sentiment: "SENTIMENT_LABEL_NEGATIVE",
      tag: "speed",
      agent_id: "42",
      page_token: "abc",
    });
  });
});

describe("exports", () => {
  it("ask for the same range and filters as the views", () => {
    const path = exportPath("feedback-jsonl", controls, { ...NO_FILTERS, maxRating: 2 }, now);
    expect(path.startsWith("/v1/feedback:export?")).toBe(true);
    expect(query(path)).toMatchObject({ format: "jsonl", max_rating: "2", start_time: "2026-11-20T08:00:00Z" });
    expect(query(exportPath("ratings", controls, NO_FILTERS, now))).toMatchObject({
      granularity: "GRANULARITY_DAY",
      time_zone: "America/Los_Angeles",
      end_time: "2026-11-27T08:00:00Z",
    });
    // Usage trends: the very query of the other views (no `period`).
    const usage = exportPath("usage-trends", controls, NO_FILTERS, now);
    expect(usage.startsWith("/v1/analytics/usage-trends:export?")).toBe(true);
    expect(query(usage)).toEqual(query(exportPath("ratings", controls, NO_FILTERS, now)));
    expect(query(usage)).toEqual({
      start_time: "2026-11-20T08:00:00Z",
      end_time: "2026-11-27T08:00:00Z",
      granularity: "GRANULARITY_DAY",
      time_zone: "America/Los_Angeles",
    });
  });
});
