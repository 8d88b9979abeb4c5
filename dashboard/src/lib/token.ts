// Signing in: a bearer token typed in, or handed over in the URL fragment `#token=<jwt>`
// (a fragment never reaches a server or a log). Kept for this tab only.

const STORAGE_KEY = "feedbackmesh.token";

/** The token in a location hash ("#token=..."), or null. */
export function fragmentToken(hash: string): string | null {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  const token = params.get("token")?.trim();
  return token ? token : null;
}

export interface Claims {
  tenant: string;
  user: string;
  // Seconds since the epoch, or null when the token does not say.
  expires: number | null;
}

/** The claims the header shows. Not a verification: the gateway checks every call. */
export function tokenClaims(token: string): Claims | null {
  const payload = token.split(".")[1];
  if (!payload) return null;
  try {
    const base64 = payload.replace(/-/g, "+").replace(/_/g, "/");
    const json = atob(base64.padEnd(Math.ceil(base64.length / 4) * 4, "="));
    const claims = JSON.parse(json) as Record<string, unknown>;
    return {
      tenant: typeof claims.tenant_id === "string" ? claims.tenant_id : "?",
      user: typeof claims.sub === "string" ? claims.sub : "?",
      expires: typeof claims.exp === "number" ? claims.exp : null,
    };
  } catch {
    return null;
  }
}

/** Reads the fragment token (then drops it from the address bar) or the stored one. */
export function takeToken(win: Window): string | null {
  const fromFragment = fragmentToken(win.location.hash);
  if (fromFragment !== null) {
    win.sessionStorage.setItem(STORAGE_KEY, fromFragment);
    win.history.replaceState(null, "", win.location.pathname + win.location.search);
    return fromFragment;
  }
  return win.sessionStorage.getItem(STORAGE_KEY);
}

export function storeToken(win: Window, token: string | null): void {
  if (token === null) {
    win.sessionStorage.removeItem(STORAGE_KEY);
  } else {
    win.sessionStorage.setItem(STORAGE_KEY, token);
  }
}
