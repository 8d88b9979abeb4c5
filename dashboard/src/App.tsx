import { useCallback, useEffect, useMemo, useState } from "react";

import type { FeedbackType, Granularity } from "./lib/api-types";
import { FEEDBACK_TYPE_LABELS } from "./lib/mapping";
import { exportPath, feedbackListPath, NO_FILTERS, type ListFilters } from "./lib/queries";
import {
  analyticsParams,
  browserTimeZone,
  fitGranularity,
  GRANULARITY_LABELS,
  RANGES,
  timeZoneChoices,
  type Controls,
  type RangeKey,
} from "./lib/range";
import { storeToken, takeToken, tokenClaims } from "./lib/token";
import { watchDataVersion, type WatchState } from "./lib/watch";
import { ExportsView } from "./views/ExportsView";
import { FeedbackView } from "./views/FeedbackView";
import { RatingsView } from "./views/RatingsView";
import { SentimentView } from "./views/SentimentView";
import { UsageView } from "./views/UsageView";

const VIEWS = ["ratings", "sentiment", "usage", "feedback", "exports"] as const;
type View = (typeof VIEWS)[number];
const VIEW_LABELS: Record<View, string> = {
  ratings: "Ratings",
  sentiment: "Sentiment",
  usage: "Usage",
  feedback: "Feedback",
  exports: "Exports",
};

const LIVE_LABELS: Record<WatchState, string> = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  unavailable: "Live updates unavailable",
  unauthenticated: "Signed out",
};

// The clock the ranges are computed from; ticks so "today" rolls over at midnight.
const CLOCK_TICK_MS = 60_000;
// A stream silent this long is reconnected (the server sends keep-alives more often).
const WATCH_IDLE_TIMEOUT_MS = 45_000;

export function App() {
  const [token, setToken] = useState<string | null>(() => takeToken(window));
  const [signInMessage, setSignInMessage] = useState<string | null>(null);
  const signOut = useCallback((message: string | null) => {
    storeToken(window, null);
    setToken(null);
    setSignInMessage(message);
  }, []);
  if (token === null) {
    return (
      <SignIn
        message={signInMessage}
        onToken={(t) => {
          storeToken(window, t);
          setSignInMessage(null);
          setToken(t);
        }}
      />
    );
  }
  return <Dashboard token={token} onSignOut={signOut} />;
}

function Dashboard({ token, onSignOut }: { token: string; onSignOut: (message: string | null) => void }) {
  const [view, setView] = useState<View>("ratings");
  const [controls, setControls] = useState<Controls>(() => ({
    range: "7d",
    granularity: "GRANULARITY_DAY",
    timeZone: browserTimeZone(),
    feedbackType: "FEEDBACK_TYPE_UNSPECIFIED",
  }));
  const [filters, setFilters] = useState<ListFilters>(NO_FILTERS);
  const [now, setNow] = useState(() => new Date());
  const [refreshKey, setRefreshKey] = useState(0);
  const [live, setLive] = useState<WatchState>("connecting");
  const [dataVersion, setDataVersion] = useState<string | null>(null);
  const claims = useMemo(() => tokenClaims(token), [token]);
  const onUnauthenticated = useCallback(
    (message: string) => onSignOut(`The gateway refused the token (${message}). Sign in again.`),
    [onSignOut],
  );

  useEffect(() => {
    const timer = setInterval(() => setNow(new Date()), CLOCK_TICK_MS);
    return () => clearInterval(timer);
  }, []);

  useEffect(() => {
    const controller = new AbortController();
    void watchDataVersion({
      url: "/v1/analytics:watch",
      token,
      signal: controller.signal,
      idleTimeoutMs: WATCH_IDLE_TIMEOUT_MS,
      onState: setLive,
      onVersion: (version, changed) => {
        setDataVersion(version);
        if (changed) {
          setNow(new Date());
          setRefreshKey((k) => k + 1);
        }
      },
    });
    return () => controller.abort();
  }, [token]);

  const query = analyticsParams(controls, now).toString();
  const props = {
    query,
    granularity: controls.granularity,
    timeZone: controls.timeZone,
    token,
    refreshKey,
    onUnauthenticated,
  };
  return (
    <div className="app" data-data-version={dataVersion ?? ""} data-refresh-key={refreshKey}>
      <header>
        <h1>Feedback Mesh</h1>
        <nav aria-label="Views">
          {VIEWS.map((v) => (
            <button
              type="button"
              key={v}
              className={v === view ? "tab active" : "tab"}
              aria-current={v === view ? "page" : undefined}
              onClick={() => setView(v)}
            >
              {VIEW_LABELS[v]}
            </button>
          ))}
        </nav>
        <div className="who">
          <span className={`live ${live}`} data-testid="live-state" data-state={live}>
            {LIVE_LABELS[live]}
          </span>
          <span data-testid="tenant">
            {claims ? `${claims.tenant} · ${claims.user}` : "unknown token"}
          </span>
          <button type="button" onClick={() => onSignOut(null)}>
            Sign out
          </button>
        </div>
      </header>
      <ControlBar
        controls={controls}
        onChange={setControls}
        onRefresh={() => {
          setNow(new Date());
          setRefreshKey((k) => k + 1);
        }}
      />
      <main data-view={view} data-query={query}>
        {view === "ratings" && <RatingsView {...props} />}
        {view === "sentiment" && <SentimentView {...props} />}
        {view === "usage" && <UsageView {...props} />}
        {view === "feedback" && (
          <FeedbackView
            {...props}
            filters={filters}
            onFilters={setFilters}
            listPath={(pageToken) => feedbackListPath(filters, controls, now, pageToken)}
          />
        )}
        {view === "exports" && (
          <ExportsView
            token={token}
            onUnauthenticated={onUnauthenticated}
            exportPath={(spec) => exportPath(spec.kind, controls, filters, now)}
          />
        )}
      </main>
    </div>
  );
}

function ControlBar({
  controls,
  onChange,
  onRefresh,
}: {
  controls: Controls;
  onChange: (c: Controls) => void;
  onRefresh: () => void;
}) {
  const zones = useMemo(() => timeZoneChoices(controls.timeZone), [controls.timeZone]);
  return (
    <div className="controls">
      <label>
        Range
        <select
          name="range"
          value={controls.range}
          onChange={(e) => {
            const range = e.target.value as RangeKey;
            onChange({ ...controls, range, granularity: fitGranularity(range, controls.granularity) });
          }}
        >
          {(Object.keys(RANGES) as RangeKey[]).map((key) => (
            <option key={key} value={key}>
              {RANGES[key].label}
            </option>
          ))}
        </select>
      </label>
      <label>
        Granularity
        <select
          name="granularity"
          value={controls.granularity}
          onChange={(e) => onChange({ ...controls, granularity: e.target.value as Granularity })}
        >
          {RANGES[controls.range].granularities.map((g) => (
            <option key={g} value={g}>
              {GRANULARITY_LABELS[g]}
            </option>
          ))}
        </select>
      </label>
      <label>
        Time zone
        <select
          name="time_zone"
          value={controls.timeZone}
          onChange={(e) => onChange({ ...controls, timeZone: e.target.value })}
        >
          {zones.map((z) => (
            <option key={z} value={z}>
              {z}
            </option>
          ))}
        </select>
      </label>
      <label>
        Feedback type
        <select
          name="feedback_type"
          value={controls.feedbackType}
          onChange={(e) => onChange({ ...controls, feedbackType: e.target.value as FeedbackType })}
        >
          {(Object.keys(FEEDBACK_TYPE_LABELS) as FeedbackType[]).map((t) => (
            <option key={t} value={t}>
              {FEEDBACK_TYPE_LABELS[t]}
            </option>
          ))}
        </select>
      </label>
      <button type="button" onClick={onRefresh}>
        Refresh
      </button>
    </div>
  );
}

function SignIn({ message, onToken }: { message: string | null; onToken: (token: string) => void }) {
  const [value, setValue] = useState("");
  return (
    <div className="signin">
      <form
        className="card"
        onSubmit={(e) => {
          e.preventDefault();
          if (value.trim() !== "") onToken(value.trim());
        }}
      >
        <h1>Feedback Mesh</h1>
        {message && (
          <p className="error" role="alert" data-testid="signin-message">
            {message}
          </p>
        )}
        <label>
          Bearer token
          <textarea
            name="token"
            rows={4}
            value={value}
            onChange={(e) => setValue(e.target.value)}
            placeholder="eyJ…  (feedbackmesh token --tenant T --user U)"
          />
        </label>
        <button type="submit">Sign in</button>
        <p className="muted">
          <code>feedbackmesh up</code> prints a link that signs you in; the token stays in this tab.
        </p>
      </form>
    </div>
  );
}
