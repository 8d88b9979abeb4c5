import { describe, expect, it } from "vitest";

import { ApiError, apiFetch, attachmentName, errorMessage, failureKind } from "./api";
import { fragmentToken, tokenClaims } from "./token";

describe("failures", () => {
  it("sort HTTP statuses into what the page does about them", () => {
    expect(failureKind(401)).toBe("unauthenticated");
    expect(failureKind(429)).toBe("retry");
    expect(failureKind(503)).toBe("retry");
    expect(failureKind(400)).toBe("invalid");
    expect(failureKind(500)).toBe("failed");
  });

  it("show the API's message with its field violations", () => {
    const body = JSON.stringify({
      code: 3,
      message: "invalid request",
      details: [{ field_violations: [{ field: "time_zone", description: "unknown time zone" }] }],
    });
    expect(errorMessage(400, body)).toBe("invalid request (time_zone: unknown time zone)");
    expect(errorMessage(503, "")).toBe("HTTP 503");
    expect(errorMessage(404, "<html><h1>Not found</h1></html>")).toBe("HTTP 404");
  });

  it("send the bearer token and raise typed errors", async () => {
    const seen: RequestInit[] = [];
    const fake = async (_: string, init?: RequestInit): Promise<Response> => {
      seen.push(init ?? {});
      return new Response('{"message":"slow down"}', { status: 429, headers: { "retry-after": "3" } });
    };
    const error = await apiFetch("/v1/analytics/ratings", "tok", {}, fake).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 429, kind: "retry", retryAfter: 3, message: "slow down" });
    expect(seen[0]?.headers).toEqual({ authorization: "Bearer tok" });
  });

  it("treat an unreachable gateway as retryable", async () => {
    const down = async (): Promise<Response> => {
      throw new TypeError("Failed to fetch");
    };
    await expect(apiFetch("/v1/feedback", "t", {}, down)).rejects.toMatchObject({ kind: "retry", status: 0 });
  });
});

describe("attachment names", () => {
  it("read plain and RFC 5987 names, never a path", () => {
    expect(attachmentName('attachment; filename="feedback.csv"', "x")).toBe("feedback.csv");
    expect(attachmentName("attachment; filename*=UTF-8''ratings%202026.csv", "x")).toBe("ratings 2026.csv");
    expect(attachmentName('attachment; filename="../../etc/passwd"', "x")).toBe(".._.._etc_passwd");
    expect(attachmentName(null, "fallback.csv")).toBe("fallback.csv");
  });
});

describe("tokens", () => {
  const payload = btoa(JSON.stringify({ sub: "demo-user", tenant_id: "demo", exp: 1_900_000_000 }))
    .replace(/=+$/, "")
    .replace(/\+/g, "-")
    .replace(/\//g, "_");
  const jwt = `eyJhbGciOiJIUzI1NiJ9.${payload}.sig`;

  it("come from the URL fragment", () => {
    expect(fragmentToken(`#token=${jwt}`)).toBe(jwt);
    expect(fragmentToken("#view=usage")).toBeNull();
    expect(fragmentToken("")).toBeNull();
  });

  it("name their tenant and user (for the header only)", () => {
    expect(tokenClaims(jwt)).toEqual({ tenant: "demo", user: "demo-user", expires: 1_900_000_000 });
    expect(tokenClaims("not-a-jwt")).toBeNull();
  });
});
