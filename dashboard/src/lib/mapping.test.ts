import { describe, expect, it } from "vitest";

import type { Feedback, RatingsAnalytics, SentimentAnalytics, UsageTrends } from "./api-types";
import {
  bucketLabel,
  distributionRows,
  feedbackTarget,
  formatInstant,
  isEmptySeries,
  ratingsRows,
  sentimentRows,
  sentimentShares,
  targetRows,
  trendSummary,
  usageRows,
} from "./mapping";

const ratings: RatingsAnalytics = {
  total_count: 3,
  avg_rating: 4,
  series: [
    { date: "2026-11-26", count: 0, avg_rating: 0, rating_sum: 0 },
    { date: "2026-11-27", count: 3, avg_rating: 4.0000001, rating_sum: 12 },
  ],
  distribution: [
    { rating: 5, count: 1 },
    { rating: 4, count: 1 },
    { rating: 3, count: 1 },
  ],
  trend: {
    previous_count: 0,
    previous_avg_rating: 0,
    count_change: 3,
    count_change_percent: 0,
    avg_rating_change: 0,
  },
};

describe("bucket labels", () => {
  it("format the wall-clock string of the requested zone, never the browser's", () => {
    expect(bucketLabel("2026-11-27", "GRANULARITY_DAY")).toBe("Nov 27");
    expect(bucketLabel("2026-03-08 02:00", "GRANULARITY_HOUR")).toBe("Mar 8 02:00");
    expect(bucketLabel("2026-11-23", "GRANULARITY_WEEK")).toBe("Week of Nov 23");
    expect(bucketLabel("2026-11-01", "GRANULARITY_MONTH")).toBe("Nov 2026");
    expect(bucketLabel("not a date", "GRANULARITY_DAY")).toBe("not a date");
  });
});

describe("ratings", () => {
  it("map every bucket, an empty one to a gap (null) rather than a 0 average", () => {
    expect(ratingsRows(ratings, "GRANULARITY_DAY")).toEqual([
      { date: "2026-11-26", label: "Nov 26", count: 0, avgRating: null },
      { date: "2026-11-27", label: "Nov 27", count: 3, avgRating: 4 },
    ]);
  });

  it("give all five ratings in order with their shares", () => {
    expect(distributionRows(ratings)).toEqual([
      { rating: "1★", count: 0, share: 0 },
      { rating: "2★", count: 0, share: 0 },
      { rating: "3★", count: 1, share: 33.3 },
      { rating: "4★", count: 1, share: 33.3 },
      { rating: "5★", count: 1, share: 33.3 },
    ]);
  });

  it("state no percentage against an empty previous range", () => {
    expect(trendSummary(ratings)).toEqual({
      countChange: 3,
      countChangePercent: null,
      avgRatingChange: null,
      direction: "up",
    });
    const fewer = {
      ...ratings,
      trend: { ...ratings.trend, previous_count: 6, count_change: -3, count_change_percent: -50, avg_rating_change: 0.5 },
    };
    expect(trendSummary(fewer)).toMatchObject({ countChangePercent: -50, avgRatingChange: 0.5, direction: "down" });
  });
});

describe("sentiment", () => {
  const data: SentimentAnalytics = {
    series: [
      { date: "2026-11-27 13:00", positive: 2, neutral: 1, negative: 1, no_comment: 4, avg_sentiment_score: 0.25 },
      { date: "2026-11-27 14:00", positive: 0, neutral: 0, negative: 0, no_comment: 2, avg_sentiment_score: 0 },
    ],
    totals: { positive: 2, neutral: 1, negative: 1, no_comment: 6 },
    avg_sentiment_score: 0.25,
    top_positive_themes: [],
    top_negative_themes: [],
  };

  it("stack the four counts per bucket; no score without scored feedback", () => {
    expect(sentimentRows(data, "GRANULARITY_HOUR")).toEqual([
      { date: "2026-11-27 13:00", label: "Nov 27 13:00", positive: 2, neutral: 1, negative: 1, no_comment: 4, avgScore: 0.25 },
      { date: "2026-11-27 14:00", label: "Nov 27 14:00", positive: 0, neutral: 0, negative: 0, no_comment: 2, avgScore: null },
    ]);
  });

  it("share the totals", () => {
    expect(sentimentShares(data.totals).map((s) => [s.key, s.count, s.share])).toEqual([
      ["positive", 2, 20],
      ["neutral", 1, 10],
      ["negative", 1, 10],
      ["no_comment", 6, 60],
    ]);
  });
});

describe("usage", () => {
  const data: UsageTrends = {
    series: [
      { date: "2026-11-26", submissions: 0, active_users: 0 },
      { date: "2026-11-27", submissions: 5, active_users: 2 },
    ],
    top_agents: [{ id: "42", count: 3, avg_rating: 4.333333 }],
    top_executions: [],
    total_submissions: 5,
    total_active_users: 2,
  };

  it("map the daily series and the top targets", () => {
    expect(usageRows(data, "GRANULARITY_DAY")).toEqual([
      { date: "2026-11-26", label: "Nov 26", submissions: 0, activeUsers: 0 },
      { date: "2026-11-27", label: "Nov 27", submissions: 5, activeUsers: 2 },
    ]);
    expect(targetRows(data.top_agents)).toEqual([{ id: "42", count: 3, avgRating: "4.33" }]);
  });

  it("label hourly and weekly buckets by the wall clock of the requested zone", () => {
    // The API answers in the request's time zone (here Asia/Kathmandu, UTC+5:45): the
    // labels are its wall-clock hours, whatever zone the browser runs in.
    const hourly: UsageTrends = {
      ...data,
      series: [
        { date: "2026-11-27 00:00", submissions: 1, active_users: 1 },
        { date: "2026-11-27 23:00", submissions: 4, active_users: 3 },
      ],
    };
    expect(usageRows(hourly, "GRANULARITY_HOUR")).toEqual([
      { date: "2026-11-27 00:00", label: "Nov 27 00:00", submissions: 1, activeUsers: 1 },
      { date: "2026-11-27 23:00", label: "Nov 27 23:00", submissions: 4, activeUsers: 3 },
    ]);
    const weekly: UsageTrends = { ...data, series: [{ date: "2026-11-23", submissions: 7, active_users: 4 }] };
    expect(usageRows(weekly, "GRANULARITY_WEEK")[0]?.label).toBe("Week of Nov 23");
    expect(usageRows(weekly, "GRANULARITY_MONTH")[0]?.label).toBe("Nov 2026");
  });

  it("know an empty range", () => {
    expect(isEmptySeries(data.series)).toBe(false);
    expect(isEmptySeries([{ submissions: 0 }, { count: 0 }])).toBe(true);
  });
});

describe("feedback rows", () => {
  it("show the creation time as wall-clock time of the chosen zone", () => {
    const at = "2026-03-08T07:30:00.123Z";
    expect(formatInstant(at, "UTC")).toBe("2026-03-08 07:30:00");
    expect(formatInstant(at, "America/New_York")).toBe("2026-03-08 03:30:00"); // EDT began at 02:00
    expect(formatInstant(at, "Asia/Kathmandu")).toBe("2026-03-08 13:15:00");
    expect(formatInstant("garbage", "UTC")).toBe("garbage");
  });

  it("name the target of the feedback", () => {
    const base = { agent_id: "0", execution_id: "0", chat_session_id: "" } as Feedback;
    expect(feedbackTarget({ ...base, feedback_type: "FEEDBACK_TYPE_AGENT", agent_id: "42" })).toBe("agent 42");
    expect(feedbackTarget({ ...base, feedback_type: "FEEDBACK_TYPE_CHAT", chat_session_id: "c-1" })).toBe("chat c-1");
    expect(feedbackTarget({ ...base, feedback_type: "FEEDBACK_TYPE_GENERAL" })).toBe("general");
  });
});
