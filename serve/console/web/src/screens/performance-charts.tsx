// The Performance screen's charts (uPlot), each a <figure> whose caption summarises it in words;
// the tables next to them carry the same numbers for anyone who does not look at the chart.
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

function useChart(make: (el: HTMLElement, width: number) => uPlot | null, deps: unknown[]) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const chart = make(el, Math.max(320, Math.min(el.clientWidth || 640, 900)));
    return () => chart?.destroy();
  }, deps);
  return box;
}

export interface DurationPoint {
  at: number; // seconds since the epoch (uPlot's time scale)
  ms: number;
  status: string;
}

/** Duration of recent finished executions over their creation time (points and a line). */
export function DurationChart({ points, summary }: { points: DurationPoint[]; summary: string }) {
  const ordered = [...points].sort((a, b) => a.at - b.at);
  const box = useChart(
    (el, width) =>
      ordered.length
        ? new uPlot(
            {
              width,
              height: 240,
              scales: { x: { time: true } },
              axes: [{}, { label: "Duration (ms)", size: 70 }],
              series: [
                {},
                {
                  label: "Duration (ms)",
                  stroke: "#0b5cad",
                  width: 1.5,
                  points: { show: true, size: 5 },
                },
              ],
            },
            [ordered.map((p) => p.at), ordered.map((p) => p.ms)],
            el,
          )
        : null,
    [JSON.stringify(ordered)],
  );
  return (
    <figure class="chart" aria-labelledby="duration-chart-caption">
      <div ref={box} role="img" aria-label={summary} />
      <figcaption id="duration-chart-caption">{summary}</figcaption>
    </figure>
  );
}

/** One bar per node type: its p95 step time. */
export function NodeBars({ labels, values, summary }: { labels: string[]; values: number[]; summary: string }) {
  const box = useChart(
    (el, width) =>
      labels.length
        ? new uPlot(
            {
              width,
              height: 240,
              scales: { x: { time: false, range: [-0.5, labels.length - 0.5] } },
              axes: [
                {
                  values: (_u, splits) => splits.map((i) => (Number.isInteger(i) ? labels[i] ?? "" : "")),
                  splits: () => labels.map((_, i) => i),
                },
                { label: "p95 step time (ms)", size: 70 },
              ],
              series: [
                {},
                {
                  label: "p95 (ms)",
                  stroke: "#0b5cad",
                  fill: "rgba(11, 92, 173, 0.35)",
                  paths: uPlot.paths.bars!({ size: [0.6, 80] }),
                  points: { show: false },
                },
              ],
              legend: { show: false },
            },
            [labels.map((_, i) => i), values],
            el,
          )
        : null,
    [labels.join("\u0000"), values.join(",")],
  );
  return (
    <figure class="chart" aria-labelledby="node-bars-caption">
      <div ref={box} role="img" aria-label={summary} />
      <figcaption id="node-bars-caption">{summary}</figcaption>
    </figure>
  );
}
