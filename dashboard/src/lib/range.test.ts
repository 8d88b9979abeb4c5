import { describe, expect, it } from "vitest";

import { analyticsParams, fitGranularity, resolveRange, rfc3339 } from "./range";

const iso = (d: Date): string => rfc3339(d);

describe("resolveRange", () => {
  it("covers whole days in the viewer's zone, today included", () => {
    // 2026-11-27 02:18 UTC is still Nov 26 in Los Angeles (UTC-8).
    const now = new Date("2026-11-27T02:18:05Z");
    const { start, end } = resolveRange("7d", "GRANULARITY_DAY", "America/Los_Angeles", now);
    expect(iso(start)).toBe("2026-11-20T08:00:00Z");
    expect(iso(end)).toBe("2026-11-27T08:00:00Z");
  });

  it("uses the same instant's date in UTC differently", () => {
    const now = new Date("2026-11-27T02:18:05Z");
    const { start, end } = resolveRange("7d", "GRANULARITY_DAY", "UTC", now);
    expect(iso(start)).toBe("2026-11-21T00:00:00Z");
    expect(iso(end)).toBe("2026-11-28T00:00:00Z");
  });

  it("keeps local midnight across a DST change (New York, 2026-03-08)", () => {
    const now = new Date("2026-03-10T15:00:00Z");
    const { start, end } = resolveRange("7d", "GRANULARITY_DAY", "America/New_York", now);
    // Mar 4 is EST (UTC-5), Mar 11 is EDT (UTC-4): the range is 7 days minus one hour.
    expect(iso(start)).toBe("2026-03-04T05:00:00Z");
    expect(iso(end)).toBe("2026-03-11T04:00:00Z");
    expect((end.getTime() - start.getTime()) / 3_600_000).toBe(7 * 24 - 1);
  });

  it("rounds hourly buckets in zones with a 45-minute offset (Kathmandu, UTC+5:45)", () => {
    const now = new Date("2026-11-27T10:20:00Z"); // 16:05 in Kathmandu
    const { start, end } = resolveRange("24h", "GRANULARITY_HOUR", "Asia/Kathmandu", now);
    expect(iso(end)).toBe("2026-11-27T11:15:00Z"); // 17:00 local
    expect(iso(start)).toBe("2026-11-26T11:15:00Z"); // 24 buckets earlier
  });

  it("starts weeks on Monday and months on the 1st, in the zone", () => {
    const now = new Date("2026-11-27T12:00:00Z"); // a Friday
    const week = resolveRange("30d", "GRANULARITY_WEEK", "Europe/Berlin", now);
    // 29 days back is Oct 29 (Thursday); its week starts Monday Oct 26, 00:00 CET (UTC+1).
    expect(iso(week.start)).toBe("2026-10-25T23:00:00Z");
    expect(iso(week.end)).toBe("2026-11-29T23:00:00Z");
    const month = resolveRange("12m", "GRANULARITY_MONTH", "Asia/Tokyo", now);
    expect(iso(month.start)).toBe("2025-11-30T15:00:00Z"); // Dec 1 00:00 JST
    expect(iso(month.end)).toBe("2026-11-30T15:00:00Z");
  });
});

describe("query parameters", () => {
  const controls = {
    range: "30d" as const,
    granularity: "GRANULARITY_DAY" as const,
    timeZone: "Asia/Kolkata",
    feedbackType: "FEEDBACK_TYPE_AGENT" as const,
  };

  it("send the resolved range, granularity, zone and type", () => {
    const params = analyticsParams(controls, new Date("2026-11-27T02:18:05Z"));
    expect(Object.fromEntries(params)).toEqual({
      start_time: "2026-10-28T18:30:00Z",
      end_time: "2026-11-27T18:30:00Z",
      granularity: "GRANULARITY_DAY",
      time_zone: "Asia/Kolkata",
      feedback_type: "FEEDBACK_TYPE_AGENT",
    });
  });

  it("leave the type out for all types", () => {
    const all = { ...controls, feedbackType: "FEEDBACK_TYPE_UNSPECIFIED" as const };
    expect(analyticsParams(all, new Date()).has("feedback_type")).toBe(false);
  });

  it("are one shape for every range and granularity: a range, never a period", () => {
    // Usage trends take the same request as ratings and sentiment (GetUsageTrendsRequest's
    // start_time / end_time / granularity / time_zone), so hourly usage exists too.
    const hourly = { ...controls, range: "24h" as const, granularity: "GRANULARITY_HOUR" as const,
      timeZone: "Asia/Kathmandu" };
    expect(Object.fromEntries(analyticsParams(hourly, new Date("2026-11-27T10:20:00Z")))).toEqual({
      start_time: "2026-11-26T11:15:00Z",
      end_time: "2026-11-27T11:15:00Z",
      granularity: "GRANULARITY_HOUR",
      time_zone: "Asia/Kathmandu",
      feedback_type: "FEEDBACK_TYPE_AGENT",
    });
    const months = { ...controls, range: "12m" as const, granularity: "GRANULARITY_MONTH" as const };
    expect(analyticsParams(months, new Date()).has("period")).toBe(false);
  });

  it("never ask for hourly buckets over 90 days (over the API's 1,000)", () => {
    expect(fitGranularity("90d", "GRANULARITY_HOUR")).toBe("GRANULARITY_WEEK");
    expect(fitGranularity("30d", "GRANULARITY_HOUR")).toBe("GRANULARITY_HOUR");
  });
});
