// The workflow drawn as a DAG (laid out by dagre, drawn as SVG), each node coloured and labelled
// with its live state; the timeline of the steps as bars; the outputs as steps complete.
import { Graph, layout } from "@dagrejs/dagre";
import { useMemo, useRef } from "preact/hooks";
import { duration, StatusBadge, when } from "../components/common";
import { type LiveSteps, nodeOrder, type PlanJson, preview, stateWord } from "./execution-model";

const NODE_W = 176;
const NODE_H = 58;

interface Laid {
  nodes: Array<{ id: string; x: number; y: number }>;
  edges: Array<{ from: string; to: string; port: string | null; d: string; label?: { x: number; y: number } }>;
  width: number;
  height: number;
}

function lay(plan: PlanJson): Laid {
  const graph = new Graph({ multigraph: true });
  graph.setGraph({ rankdir: "LR", nodesep: 24, ranksep: 56, marginx: 12, marginy: 12 });
  graph.setDefaultEdgeLabel(() => ({}));
  for (const id of nodeOrder(plan)) graph.setNode(id, { width: NODE_W, height: NODE_H });
  // Only ports that choose a way (true/false, a switch's cases) are written on their edges.
  const portOf = (edge: { port: string | null }) => (edge.port && edge.port !== "success" ? edge.port : null);
  plan.edges.forEach((edge, index) => {
    const label = portOf(edge) && edge.port ? { width: edge.port.length * 7 + 10, height: 16, labelpos: "c" as const } : {};
    graph.setEdge(edge.from, edge.to, label, `e${index}`);
  });
  layout(graph);
  const nodes = graph.nodes().map((id: string) => {
    const n = graph.node(id);
    return { id, x: n.x ?? 0, y: n.y ?? 0 };
  });
  const edges = plan.edges.map((edge, index) => {
    const e = graph.edge({ v: edge.from, w: edge.to, name: `e${index}` });
    const points = e?.points ?? [];
    const d = points.map((p: { x: number; y: number }, i: number) => `${i ? "L" : "M"}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(" ");
    const label = portOf(edge) && e?.x !== undefined && e?.y !== undefined ? { x: e.x, y: e.y } : undefined;
    return { ...edge, d, label };
  });
  const size = graph.graph();
  return { nodes, edges, width: Math.max(size.width ?? 0, 200), height: Math.max(size.height ?? 0, 80) };
}

export interface GraphProps {
  plan: PlanJson;
  steps: LiveSteps;
  label: string;
  idPrefix: string;
  onOpen: (nodeId: string) => void;
  /** Nodes with a breakpoint (the debugger's graph); adds it to each node's name. */
  breakpoints?: Set<string>;
  selected?: string | null;
}

/** The graph: nodes are buttons named "node id: state"; arrow keys move between them, Enter
 * (or a click) opens the node. */
export function WorkflowGraph({ plan, steps, label, idPrefix, onOpen, breakpoints, selected }: GraphProps) {
  const laid = useMemo(() => lay(plan), [plan]);
  const order = useMemo(() => nodeOrder(plan), [plan]);
  const refs = useRef<Record<string, SVGGElement | null>>({});

  const move = (from: string, key: string): boolean => {
    const at = order.indexOf(from);
    let next = at;
    if (key === "ArrowRight" || key === "ArrowDown") next = Math.min(order.length - 1, at + 1);
    else if (key === "ArrowLeft" || key === "ArrowUp") next = Math.max(0, at - 1);
    else if (key === "Home") next = 0;
    else if (key === "End") next = order.length - 1;
    else return false;
    refs.current[order[next]]?.focus();
    return true;
  };

  return (
    <div class="graph-scroll">
      <svg
        class="workflow-graph"
        role="group"
        aria-label={label}
        viewBox={`0 0 ${laid.width} ${laid.height}`}
        width={laid.width}
        height={laid.height}
      >
        <defs>
          <marker id={`${idPrefix}-arrow`} viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M 0 0 L 10 5 L 0 10 z" class="graph-arrow" />
          </marker>
        </defs>
        <g aria-hidden="true">
          {laid.edges.map((edge, i) => (
            <g key={i}>
              <path d={edge.d} class="graph-edge" marker-end={`url(#${idPrefix}-arrow)`} />
              {edge.label && edge.port && edge.port !== "success" && (
                <text x={edge.label.x} y={edge.label.y + 4} class="graph-port" text-anchor="middle">
                  {edge.port}
                </text>
              )}
            </g>
          ))}
        </g>
        {order.map((id) => {
          const node = laid.nodes.find((n) => n.id === id);
          if (!node) return null;
          const state = steps[id]?.state ?? "pending";
          const word = stateWord(state);
          const hasBreak = breakpoints?.has(id) ?? false;
          const name = `${id}: ${word}${hasBreak ? ", breakpoint" : ""}`;
          return (
            <g
              key={id}
              ref={(el) => {
                refs.current[id] = el;
              }}
              class={`graph-node state-${state}${selected === id ? " selected" : ""}`}
              transform={`translate(${node.x - NODE_W / 2},${node.y - NODE_H / 2})`}
              role="button"
              // lower case: on SVG elements Preact sets attributes as written
              tabindex={0}
              aria-label={name}
              aria-pressed={breakpoints ? hasBreak : undefined}
              onClick={() => onOpen(id)}
              onKeyDown={(event) => {
                if (event.key === "Enter" || event.key === " ") {
                  event.preventDefault();
                  onOpen(id);
                } else if (move(id, event.key)) event.preventDefault();
              }}
            >
              <rect width={NODE_W} height={NODE_H} rx="7" />
              <text x="10" y="22" class="graph-id" aria-hidden="true">
                {id.length > 20 ? `${id.slice(0, 19)}…` : id}
              </text>
              <text x="10" y="43" class="graph-state" aria-hidden="true">
                {word} · {plan.nodes[id]?.type}
              </text>
              {hasBreak && <circle cx={NODE_W - 12} cy="12" r="6" class="graph-break" aria-hidden="true" />}
            </g>
          );
        })}
      </svg>
    </div>
  );
}

/** Steps with start, end and duration, as rows with a bar on a shared time axis. */
export function Timeline({
  order,
  steps,
  startedAt,
  endedAt,
  now,
}: {
  order: string[];
  steps: LiveSteps;
  startedAt: string | null;
  endedAt: string | null;
  now: number;
}) {
  const rows = order.filter((id) => steps[id]?.started || steps[id]?.ended);
  if (!rows.length) return <p class="help">No step has started yet.</p>;
  const times = rows.map((id) => Date.parse(steps[id].started ?? steps[id].ended ?? ""));
  const origin = startedAt ? Math.min(Date.parse(startedAt), ...times) : Math.min(...times);
  const end = endedAt ? Date.parse(endedAt) : now;
  const span = Math.max(end - origin, 1);
  return (
    <table class="timeline">
      <caption class="sr-only">Step timeline</caption>
      <thead>
        <tr>
          <th scope="col">Step</th>
          <th scope="col">State</th>
          <th scope="col">Started</th>
          <th scope="col">Ended</th>
          <th scope="col" class="num">
            Duration
          </th>
          <th scope="col">
            <span class="sr-only">Bar</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {rows.map((id) => {
          const step = steps[id];
          const start = Date.parse(step.started ?? step.ended ?? "");
          const stop = step.ended ? Date.parse(step.ended) : end;
          const ms = step.duration_ms ?? (step.ended ? stop - start : null);
          const left = ((start - origin) / span) * 100;
          const width = Math.max(((stop - start) / span) * 100, 0.6);
          return (
            <tr key={id}>
              <th scope="row">
                <code>{id}</code>
              </th>
              <td>
                <StatusBadge status={step.state} />
              </td>
              <td>{when(step.started)}</td>
              <td>{when(step.ended)}</td>
              <td class="num">{duration(ms ?? (step.started && !step.ended ? now - start : null))}</td>
              <td class="timeline-track" aria-hidden="true">
                <span class={`timeline-bar state-${step.state}`} style={{ left: `${Math.max(0, Math.min(left, 99.4))}%`, width: `${Math.min(width, 100 - Math.max(0, left))}%` }} />
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

/** A short look at each completed step's output, in the order the steps run. */
export function OutputPreviews({ order, steps }: { order: string[]; steps: LiveSteps }) {
  const done = order.filter((id) => steps[id]?.state === "completed");
  if (!done.length) return <p class="help">Outputs appear here as steps complete.</p>;
  return (
    <dl class="outputs">
      {done.map((id) => (
        <div key={id}>
          <dt>
            <code>{id}</code>
          </dt>
          <dd>
            <code class="output-preview">{preview(steps[id].output)}</code>
            {steps[id].truncated && <span class="help"> (truncated: the whole output is in Detail)</span>}
          </dd>
        </div>
      ))}
    </dl>
  );
}
