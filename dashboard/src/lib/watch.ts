// Live updates: GET /v1/analytics:watch streams `data: {"data_version": ...}` frames; the
// views refresh when the tenant's data version moves. Reconnects with capped, jittered
// backoff when the gateway or the service restarts.
import type { Fetch } from "./api";
import { SseParser } from "./sse";

export type WatchState =
  | "connecting"
  | "live"
  | "reconnecting"
  | "unavailable"
  | "unauthenticated";

export interface Backoff {
  initialMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { initialMs: 500, maxMs: 15_000 };

export interface WatchOptions {
  url: string;
  token: string;
  signal: AbortSignal;
  /** Every version the stream carries; `changed` is false for the first one and repeats. */
  onVersion: (version: string, changed: boolean) => void;
  onState: (state: WatchState, retryInMs?: number) => void;
  fetchImpl?: Fetch;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  random?: () => number;
  backoff?: Backoff;
  /** A stream silent this long (no event, no keep-alive) is taken as dead. */
  idleTimeoutMs?: number;
}

/** Attempt 0, 1, 2... -> initial, 2x, 4x... capped at max, times a jitter in [0.5, 1). */
export function backoffDelay(attempt: number, backoff: Backoff, random: () => number): number {
  const ceiling = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling * (0.5 + random() / 2));
}

/** The `data_version` of one event's data, or null when it has none. */
export function eventVersion(data: string): string | null {
  try {
    const value = (JSON.parse(data) as { data_version?: unknown }).data_version;
    if (typeof value === "string" && value !== "") return value;
    if (typeof value === "number") return String(value);
    return null;
  } catch {
    return null;
  }
}

export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

class StreamRefused extends Error {
  constructor(readonly status: number) {
    super(`watch answered HTTP ${status}`);
  }
}

/** Runs until `signal` aborts or the token is refused. */
export async function watchDataVersion(options: WatchOptions): Promise<void> {
  const fetchImpl = options.fetchImpl ?? ((input, init) => fetch(input, init));
  const sleep = options.sleep ?? abortableSleep;
  const random = options.random ?? Math.random;
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  const { signal } = options;
  let last: string | null = null;
  let attempt = 0;
  while (!signal.aborted) {
    options.onState(attempt === 0 ? "connecting" : "reconnecting");
    let refusedStatus = 0;
    try {
      const response = await fetchImpl(options.url, {
        headers: { authorization: `Bearer ${options.token}`, accept: "text/event-stream" },
        cache: "no-store",
        signal,
      });
      if (response.status === 401) {
        options.onState("unauthenticated");
        return;
      }
      if (!response.ok || response.body === null) {
        throw new StreamRefused(response.status);
      }
      let live = false;
      for await (const data of streamData(response.body, signal, options.idleTimeoutMs)) {
        const version = eventVersion(data);
        if (version === null) continue;
        if (!live) {
          live = true;
          attempt = 0;
          options.onState("live");
        }
        const changed = last !== null && version !== last;
        last = version;
        options.onVersion(version, changed);
      }
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof StreamRefused) refusedStatus = error.status;
    }
    if (signal.aborted) return;
    const delay = backoffDelay(attempt, backoff, random);
    attempt += 1;
    // 404: the gateway has no watch route (an older mesh): keep trying, slowly and quietly.
    options.onState(refusedStatus === 404 ? "unavailable" : "reconnecting", delay);
    await sleep(delay, signal);
  }
}

/** The data of each event of an SSE body; ends when the body ends or goes silent. */
async function* streamData(
  body: ReadableStream<Uint8Array>,
  signal: AbortSignal,
  idleTimeoutMs: number | undefined,
): AsyncGenerator<string> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const parser = new SseParser();
  let idle: ReturnType<typeof setTimeout> | undefined;
  const arm = (): void => {
    if (idleTimeoutMs === undefined) return;
    clearTimeout(idle);
    idle = setTimeout(() => void reader.cancel("idle"), idleTimeoutMs);
  };
  const cancel = (): void => void reader.cancel("aborted");
  signal.addEventListener("abort", cancel, { once: true });
  try {
    arm();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      arm();
      for (const event of parser.push(decoder.decode(value, { stream: true }))) {
        yield event.data;
      }
    }
  } finally {
    clearTimeout(idle);
    signal.removeEventListener("abort", cancel);
    reader.releaseLock();
  }
}
