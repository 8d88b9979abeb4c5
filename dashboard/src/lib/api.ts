// Calls to the gateway (same origin) with the bearer token, and what their failures mean.
import type { ApiErrorBody } from "./api-types";

export type FailureKind = "unauthenticated" | "retry" | "invalid" | "failed";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly kind: FailureKind,
    message: string,
    // Seconds the server asked to wait (Retry-After), when it said.
    readonly retryAfter: number | null = null,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** 401 -> sign in again; 429/503 (and a dropped connection) -> try again later. */
export function failureKind(status: number): FailureKind {
  if (status === 401) return "unauthenticated";
  if (status === 429 || status === 503 || status === 502 || status === 504 || status === 0) {
    return "retry";
  }
  if (status === 400 || status === 404 || status === 403) return "invalid";
  return "failed";
}

/** The human part of an error answer: the message and any field violations. */
export function errorMessage(status: number, body: string): string {
  let parsed: ApiErrorBody | null = null;
  try {
    parsed = JSON.parse(body) as ApiErrorBody;
  } catch {
    parsed = null;
  }
  // Not JSON (a proxy's HTML page, say): the status says more than its markup.
  const message = parsed?.message?.trim() || `HTTP ${status}`;
  const violations = (parsed?.details ?? []).flatMap((d) => d.field_violations ?? []);
  if (violations.length === 0) return message;
  return `${message} (${violations.map((v) => `${v.field}: ${v.description}`).join("; ")})`;
}

export function retryAfterSeconds(header: string | null): number | null {
  if (header === null) return null;
  const seconds = Number(header);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : null;
}

export type Fetch = (input: string, init?: RequestInit) => Promise<Response>;

export async function apiFetch(
  path: string,
  token: string,
  init: RequestInit = {},
  fetchImpl: Fetch = fetch,
): Promise<Response> {
  let response: Response;
  try {
    response = await fetchImpl(path, {
      ...init,
      headers: { ...(init.headers ?? {}), authorization: `Bearer ${token}` },
    });
  } catch (error) {
    if (error instanceof DOMException && error.name === "AbortError") throw error;
    throw new ApiError(0, "retry", "The gateway cannot be reached.");
  }
  if (!response.ok) {
    const body = await response.text();
    throw new ApiError(
      response.status,
      failureKind(response.status),
      errorMessage(response.status, body),
      retryAfterSeconds(response.headers.get("retry-after")),
    );
  }
  return response;
}

export async function apiJson<T>(path: string, token: string, signal?: AbortSignal): Promise<T> {
  const response = await apiFetch(path, token, signal ? { signal } : {});
  return (await response.json()) as T;
}

/** The file name of a `Content-Disposition: attachment; filename="..."` answer. */
export function attachmentName(header: string | null, fallback: string): string {
  if (header === null) return fallback;
  const star = /filename\*\s*=\s*UTF-8''([^;]+)/i.exec(header);
  if (star?.[1]) {
    try {
      return decodeURIComponent(star[1].trim());
    } catch {
      // fall through to the plain name
    }
  }
  const plain = /filename\s*=\s*"([^"]*)"|filename\s*=\s*([^;]+)/i.exec(header);
  const name = (plain?.[1] ?? plain?.[2] ?? "").trim();
  // Never a path: a file name only.
  return name.replace(/[/\\]/g, "_") || fallback;
}
