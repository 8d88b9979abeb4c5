import type { Granularity } from "../lib/api-types";

/** What every view gets from the app: the query of the controls, the token, refreshes. */
export interface ViewProps {
  // URL query of the analytics views, usage trends included (range, granularity, zone, type).
  query: string;
  granularity: Granularity;
  timeZone: string;
  token: string;
  refreshKey: number;
  onUnauthenticated: (message: string) => void;
}
