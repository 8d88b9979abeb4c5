// Recharts building blocks shared by the views. Animations are off: live refreshes should
// not replay them, and screenshots must show final values.
import type { ReactElement } from "react";
import { ResponsiveContainer } from "recharts";

export const CHART_HEIGHT = 240;

export const AXIS_TICK = { fontSize: 12, fill: "#475569" };

export function Chart({ children }: { children: ReactElement }) {
  return (
    <ResponsiveContainer width="100%" height={CHART_HEIGHT}>
      {children}
    </ResponsiveContainer>
  );
}
