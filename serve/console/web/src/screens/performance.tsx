// Performance (/ui/performance): GET /metrics/performance per workflow and node type, the
// slowest steps and the recommendations; charts of recent durations and per-node p95 (each with
// a caption and a table); the Ray dashboard's link for CPU and memory per node.
import { useState } from "preact/hooks";
import { Link } from "wouter-preact";
import { get, query } from "../api";
import { duration, ErrorNote, Loading, Section, useLoad, useTitle } from "../components/common";
import { DurationChart, type DurationPoint, NodeBars } from "./performance-charts";
import "./history.css";

interface WorkflowPerformance {
  workflow_id: string;
  count: number;
  success_rate: number | null;
  p50_ms: number | null;
  p95_ms: number | null;
  throughput_per_min: number;
}

interface NodeTypePerformance {
  node_type: string;
  count: number;
  success_rate: number | null;
  p50_ms: number | null;
  p95_ms: number | null;
  failures: number;
}

interface SlowStep {
  execution_id: string;
  workflow_id: string;
  node_id: string;
  node_type: string;
  duration_ms: number;
}

interface Report {
  workflows: WorkflowPerformance[];
  node_types: NodeTypePerformance[];
  slowest_steps: SlowStep[];
  recommendations: string[];
}

interface Row {
  id: string;
  status: string;
  created_at: string | null;
  duration_ms: number | null;
}

const WINDOWS: Array<[string, string, number | null]> = [
  ["all", "All recorded", null],
  ["1h", "Last hour", 3600],
  ["24h", "Last 24 hours", 86_400],
  ["7d", "Last 7 days", 7 * 86_400],
];

const rate = (v: number | null) => (v === null ? "–" : `${(v * 100).toFixed(1)} %`);

export function Performance() {
  useTitle("Performance");
  const [workflow, setWorkflow] = useState("");
  const [windowKey, setWindowKey] = useState("all");
  const [applied, setApplied] = useState({ workflow: "", windowKey: "all" });
  const seconds = WINDOWS.find(([key]) => key === applied.windowKey)?.[2] ?? null;
  const since = seconds === null ? "" : new Date(Date.now() - seconds * 1000).toISOString();
  const key = JSON.stringify(applied);

  const [report, error] = useLoad(
    () => get<Report>("/metrics/performance" + query({ workflow_id: applied.workflow, since })),
    [key],
  );
  const [recent, recentError] = useLoad(
    () =>
      get<{ items: Row[] }>(
        "/executions" +
          query({ workflow_id: applied.workflow, created_after: since, status: ["completed", "failed"], limit: 200 }),
      ),
    [key],
  );
  const [runtime] = useLoad(() => get<{ dashboard_url?: string | null }>("/runtime").catch(() => null), []);

  const points: DurationPoint[] = (recent?.items ?? [])
    .filter((r) => r.created_at && r.duration_ms !== null)
    .map((r) => ({ at: Date.parse(r.created_at!) / 1000, ms: r.duration_ms!, status: r.status }));

  return (
    <>
      <h1>Performance</h1>
      <form
        class="panel toolbar"
        aria-label="Performance filters"
        onSubmit={(e) => {
          e.preventDefault();
          setApplied({ workflow: workflow.trim(), windowKey });
        }}
      >
        <div class="field">
          <label for="perf-workflow">Workflow</label>
          <input id="perf-workflow" value={workflow} onInput={(e) => setWorkflow((e.target as HTMLInputElement).value)} />
        </div>
        <div class="field">
          <label for="perf-window">Time window</label>
          <select id="perf-window" value={windowKey} onChange={(e) => setWindowKey((e.target as HTMLSelectElement).value)}>
            {WINDOWS.map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <button type="submit">Show</button>
        </div>
        <p class="help perf-dashboard">
          CPU and memory per node:{" "}
          {runtime?.dashboard_url ? (
            <a href={runtime.dashboard_url} target="_blank" rel="noopener noreferrer">
              Ray dashboard (opens in a new tab)
            </a>
          ) : (
            "the Ray dashboard is not running on this cluster"
          )}
        </p>
      </form>
      <ErrorNote error={error} title="The performance report could not be made" />
      {!report && !error && <Loading what="the performance report" />}
      {report && <ReportView report={report} points={points} recentError={recentError} />}
    </>
  );
}

function ReportView({ report, points, recentError }: { report: Report; points: DurationPoint[]; recentError: unknown }) {
  const timed = report.node_types.filter((n) => n.p95_ms !== null);
  const ordered = [...points].sort((a, b) => b.ms - a.ms);
  const durationSummary = points.length
    ? `Duration of the ${points.length} most recent finished executions over time: ` +
      `longest ${duration(ordered[0].ms)}, shortest ${duration(ordered[ordered.length - 1].ms)}.`
    : "No finished executions in this window: no durations to chart.";
  const slowestType = [...timed].sort((a, b) => (b.p95_ms ?? 0) - (a.p95_ms ?? 0))[0];
  const barsSummary = timed.length
    ? `p95 step time of ${timed.length} node types; the slowest is ${slowestType.node_type} at ${duration(slowestType.p95_ms)}.`
    : "No steps have run in this window: no node types to chart.";
  return (
    <>
      <Section title="Recommendations">
        {report.recommendations.length ? (
          <ul>
            {report.recommendations.map((text) => (
              <li key={text}>{text}</li>
            ))}
          </ul>
        ) : (
          <p>No recommendations: nothing fails often or varies widely in this window.</p>
        )}
      </Section>
      <Section title="Workflows">
        <ErrorNote error={recentError} title="Recent executions could not be listed" />
        <DurationChart points={points} summary={durationSummary} />
        {report.workflows.length ? (
          <table>
            <caption class="sr-only">Performance per workflow</caption>
            <thead>
              <tr>
                <th scope="col">Workflow</th>
                <th scope="col" class="num">Executions</th>
                <th scope="col" class="num">Success rate</th>
                <th scope="col" class="num">p50</th>
                <th scope="col" class="num">p95</th>
                <th scope="col" class="num">Throughput (per min)</th>
              </tr>
            </thead>
            <tbody>
              {report.workflows.map((w) => (
                <tr key={w.workflow_id}>
                  <th scope="row">
                    <Link href={`/executions?workflow_id=${encodeURIComponent(w.workflow_id)}`}>{w.workflow_id}</Link>
                  </th>
                  <td class="num">{w.count}</td>
                  <td class="num">{rate(w.success_rate)}</td>
                  <td class="num">{duration(w.p50_ms)}</td>
                  <td class="num">{duration(w.p95_ms)}</td>
                  <td class="num">{w.throughput_per_min.toFixed(2)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <p>No executions in this window.</p>
        )}
      </Section>
      <Section title="Node types">
        <NodeBars labels={timed.map((n) => n.node_type)} values={timed.map((n) => n.p95_ms ?? 0)} summary={barsSummary} />
        {report.node_types.length ? (
          <table>
            <caption class="sr-only">Performance per node type</caption>
            <thead>
              <tr>
                <th scope="col">Node type</th>
                <th scope="col" class="num">Steps</th>
                <th scope="col" class="num">Failures</th>
                <th scope="col" class="num">Success rate</th>
                <th scope="col" class="num">p50</th>
                <th scope="col" class="num">p95</th>
              </tr>
            </thead>
            <tbody>
              {report.node_types.map((n) => (
                <tr key={n.node_type}>
                  <th scope="row">{n.node_type}</th>
                  <td class="num">{n.count}</td>
                  <td class="num">{n.failures}</td>
                  <td class="num">{rate(n.success_rate)}</td>
                  <td class="num">{duration(n.p50_ms)}</td>
                  <td class="num">{duration(n.p95_ms)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <p>No steps in this window.</p>
        )}
      </Section>
      <Section title="Slowest steps">
        {report.slowest_steps.length ? (
          <table>
            <caption class="sr-only">The ten longest steps, longest first</caption>
            <thead>
              <tr>
                <th scope="col">Step</th>
                <th scope="col">Node type</th>
                <th scope="col">Workflow</th>
                <th scope="col">Execution</th>
                <th scope="col" class="num">Duration</th>
              </tr>
            </thead>
            <tbody>
              {report.slowest_steps.map((s) => (
                <tr key={`${s.execution_id}/${s.node_id}`}>
                  <th scope="row">{s.node_id}</th>
                  <td>{s.node_type}</td>
                  <td>{s.workflow_id}</td>
                  <td>
                    <Link href={`/executions/${s.execution_id}`} class="mono" aria-label={`Execution ${s.execution_id}`}>
                      {s.execution_id.slice(0, 12)}
                    </Link>
                  </td>
                  <td class="num">{duration(s.duration_ms)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <p>No steps in this window.</p>
        )}
      </Section>
    </>
  );
}
