import { describe, expect, it } from "vitest";

import { backoffDelay, eventVersion, watchDataVersion, type WatchState } from "./watch";

/** A test double of the gateway's watch stream: each call answers the next scripted reply. */
type Reply = { status: number } | { frames: string[]; hold?: boolean };

function fakeGateway(replies: Reply[]) {
  const calls: RequestInit[] = [];
  const fetchImpl = async (_url: string, init?: RequestInit): Promise<Response> => {
    calls.push(init ?? {});
    const reply = replies.shift() ?? { status: 503 };
    if ("status" in reply) return new Response("{}", { status: reply.status });
    const encoder = new TextEncoder();
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const frame of reply.frames) controller.enqueue(encoder.encode(frame));
        if (!reply.hold) controller.close();
      },
    });
    return new Response(body, { status: 200, headers: { "content-type": "text/event-stream" } });
  };
  return { fetchImpl, calls };
}

function recorder(stopAfterSleeps: number) {
  const controller = new AbortController();
  const versions: [string, boolean][] = [];
  const states: [WatchState, number | undefined][] = [];
  const sleeps: number[] = [];
  return {
    controller,
    versions,
    states,
    sleeps,
    options: {
      url: "/v1/analytics:watch",
      token: "tok",
      signal: controller.signal,
      random: () => 0.999,
      backoff: { initialMs: 100, maxMs: 1000 },
      onVersion: (v: string, changed: boolean) => versions.push([v, changed]),
      onState: (s: WatchState, retry?: number) => states.push([s, retry]),
      sleep: async (ms: number) => {
        sleeps.push(ms);
        if (sleeps.length >= stopAfterSleeps) controller.abort();
      },
    },
  };
}

const frame = (version: string): string => `data: {"data_version":"${version}"}\n\n`;

describe("watchDataVersion", () => {
  it("reports versions, flags a change only when the version moves, across reconnects", async () => {
    const gateway = fakeGateway([
      { frames: [frame("5"), ": keep-alive\n\n", frame("5"), frame("6")] },
      { frames: [frame("6"), frame("9")] },
    ]);
    const rec = recorder(2);
    await watchDataVersion({ ...rec.options, fetchImpl: gateway.fetchImpl });
    expect(rec.versions).toEqual([
      ["5", false],
      ["5", false],
      ["6", true],
      ["6", false],
      ["9", true],
    ]);
    expect(gateway.calls[0]?.headers).toEqual({ authorization: "Bearer tok", accept: "text/event-stream" });
    // A stream that delivered events resets the backoff: both reconnects wait the first step.
    expect(rec.sleeps).toEqual([100, 100]);
    expect(rec.states.map(([s]) => s)).toEqual(["connecting", "live", "reconnecting", "reconnecting", "live", "reconnecting"]);
  });

  it("backs off exponentially up to the cap while the service is down", async () => {
    const gateway = fakeGateway([{ status: 503 }, { status: 503 }, { status: 503 }, { status: 503 }, { status: 503 }]);
    const rec = recorder(5);
    await watchDataVersion({ ...rec.options, fetchImpl: gateway.fetchImpl });
    expect(rec.sleeps).toEqual([100, 200, 400, 800, 1000]);
    expect(rec.versions).toEqual([]);
  });

  it("says the stream is unavailable when the gateway has no watch route", async () => {
    const rec = recorder(1);
    await watchDataVersion({ ...rec.options, fetchImpl: fakeGateway([{ status: 404 }]).fetchImpl });
    expect(rec.states.at(-1)).toEqual(["unavailable", 100]);
  });

  it("stops for good when the token is refused", async () => {
    const gateway = fakeGateway([{ status: 401 }, { frames: [frame("1")] }]);
    const rec = recorder(10);
    await watchDataVersion({ ...rec.options, fetchImpl: gateway.fetchImpl });
    expect(rec.states.at(-1)).toEqual(["unauthenticated", undefined]);
    expect(gateway.calls).toHaveLength(1);
  });

  it("reconnects when an open stream goes silent past the idle timeout", async () => {
    const gateway = fakeGateway([{ frames: [frame("1")], hold: true }, { frames: [frame("2")] }]);
    const rec = recorder(2);
    await watchDataVersion({ ...rec.options, fetchImpl: gateway.fetchImpl, idleTimeoutMs: 20 });
    expect(rec.versions).toEqual([
      ["1", false],
      ["2", true],
    ]);
  });

  it("ends when aborted while connected", async () => {
    const gateway = fakeGateway([{ frames: [frame("1")], hold: true }]);
    const rec = recorder(10);
    const run = watchDataVersion({ ...rec.options, fetchImpl: gateway.fetchImpl });
    await new Promise((resolve) => setTimeout(resolve, 10));
    rec.controller.abort();
    await run;
    expect(rec.versions).toEqual([["1", false]]);
    expect(rec.sleeps).toEqual([]);
  });
});

describe("helpers", () => {
  it("read data_version from an event, nothing from others", () => {
    expect(eventVersion('{"data_version":"12"}')).toBe("12");
    expect(eventVersion('{"data_version":12}')).toBe("12");
    expect(eventVersion('{"other":1}')).toBeNull();
    expect(eventVersion("not json")).toBeNull();
  });

  it("jitter the delay within [half, full) of the step", () => {
    const backoff = { initialMs: 500, maxMs: 15_000 };
    expect(backoffDelay(0, backoff, () => 0)).toBe(250);
    expect(backoffDelay(3, backoff, () => 0.5)).toBe(3000);
    expect(backoffDelay(20, backoff, () => 0.999)).toBeLessThanOrEqual(15_000);
  });
});
