// Recharts building blocks shared by the views. Animations are off: live refreshes should
// not replay them, and screenshots must show final values.
import type { ReactElement } from "react";
import {
  Bar,
  BarChart,
  CartesianGrid,
  Legend,
  Line,
  LineChart,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from "recharts";

export const CHART_HEIGHT = 240;

export const AXIS_TICK = { fontSize: 12, fill: "#475569" };

// Dots only while there is room for them.
const MAX_DOTTED_POINTS = 40;

export function Chart({ children }: { children: ReactElement }) {
  return (
    <ResponsiveContainer width="100%" height={CHART_HEIGHT}>
      {children}
    </ResponsiveContainer>
  );
}

export interface Series<Row> {
  key: keyof Row & string;
  name: string;
  color: string;
  // Bars with the same stack id are stacked.
  stack?: string;
}

interface ChartProps<Row> {
  rows: Row[];
  xKey: keyof Row & string;
  series: Series<Row>[];
  yDomain?: [number, number];
  yTicks?: number[];
  legend?: boolean;
}

function axes<Row>({ xKey, yDomain, yTicks, legend }: ChartProps<Row>) {
  return [
    <CartesianGrid key="grid" strokeDasharray="3 3" />,
    <XAxis key="x" dataKey={xKey as string} tick={AXIS_TICK} minTickGap={16} />,
    yDomain ? (
      <YAxis key="y" domain={yDomain} ticks={yTicks} tick={AXIS_TICK} width={40} />
    ) : (
      <YAxis key="y" allowDecimals={false} tick={AXIS_TICK} width={40} />
    ),
    <Tooltip key="tooltip" />,
    ...(legend ? [<Legend key="legend" />] : []),
  ];
}

export function LineSeriesChart<Row extends object>(props: ChartProps<Row>) {
  return (
    <Chart>
      <LineChart data={props.rows}>
        {axes(props)}
        {props.series.map((s) => (
          <Line
            key={s.key}
            type="monotone"
            dataKey={s.key as string}
            name={s.name}
            stroke={s.color}
            strokeWidth={2}
            dot={props.rows.length <= MAX_DOTTED_POINTS}
            isAnimationActive={false}
          />
        ))}
      </LineChart>
    </Chart>
  );
}

export function BarSeriesChart<Row extends object>(props: ChartProps<Row>) {
  return (
    <Chart>
      <BarChart data={props.rows}>
        {axes(props)}
        {props.series.map((s) => (
          <Bar
            key={s.key}
            dataKey={s.key as string}
            name={s.name}
            fill={s.color}
            stackId={s.stack}
            isAnimationActive={false}
          />
        ))}
      </BarChart>
    </Chart>
  );
}
