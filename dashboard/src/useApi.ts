// One GET per view and query: refetched when the query or the refresh key changes, kept on
// screen while a refresh is in flight, retried with backoff on 429/503.
import { useEffect, useRef, useState } from "react";

import { ApiError, apiJson } from "./lib/api";

export type ApiState<T> =
  | { status: "loading" }
  | { status: "ready"; data: T; refreshing: boolean }
  | { status: "error"; error: ApiError; retryInSeconds: number | null; retry: () => void };

const RETRY_STEPS_SECONDS = [2, 4, 8, 15, 30];

export function useApi<T>(
  path: string | null,
  token: string,
  refreshKey: number,
  onUnauthenticated: (message: string) => void,
): ApiState<T> {
  const [state, setState] = useState<ApiState<T>>({ status: "loading" });
  const [attempt, setAttempt] = useState(0);
  const last = useRef<{ path: string | null; data: T | null }>({ path: null, data: null });

  useEffect(() => {
    if (path === null) return undefined;
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const kept = last.current.path === path ? last.current.data : null;
    setState(kept === null ? { status: "loading" } : { status: "ready", data: kept, refreshing: true });
    apiJson<T>(path, token, controller.signal).then(
      (data) => {
        last.current = { path, data };
        setState({ status: "ready", data, refreshing: false });
      },
      (error: unknown) => {
        if (controller.signal.aborted) return;
        const failure =
          error instanceof ApiError ? error : new ApiError(0, "failed", "The request failed.");
        if (failure.kind === "unauthenticated") {
          onUnauthenticated(failure.message);
          return;
        }
        const retry = (): void => setAttempt((n) => n + 1);
        let retryInSeconds: number | null = null;
        if (failure.kind === "retry") {
          const step = RETRY_STEPS_SECONDS[Math.min(attempt, RETRY_STEPS_SECONDS.length - 1)] ?? 30;
          retryInSeconds = failure.retryAfter ?? step;
          timer = setTimeout(retry, retryInSeconds * 1000);
        }
        setState({ status: "error", error: failure, retryInSeconds, retry });
      },
    );
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
    // onUnauthenticated is stable (App's callback); attempt re-runs the same query.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [path, token, refreshKey, attempt]);

  return state;
}
