// What the execution screens know of a run: the record (GET /executions/{id}), the plan of its
// workflow version, and each step's live state folded from the event stream (pure functions).
import type { HubEvent } from "../api";

export interface StepError {
  message: string;
  category: string;
  severity?: string;
  attempts?: number;
  node_id?: string | null;
  suggestions?: string[];
}

export interface StepJson {
  node_id: string;
  node_type: string;
  status: string;
  attempts: number;
  started_at: string | null;
  ended_at: string | null;
  duration_ms: number | null;
  output: unknown;
  error: StepError | null;
  input?: unknown;
}

export interface ExecutionJson {
  id: string;
  workflow_id: string;
  workflow_version: string;
  status: string;
  trigger: string;
  trigger_info: Record<string, unknown> | null;
  inputs: Record<string, unknown>;
  outputs: Record<string, unknown>;
  steps: StepJson[];
  error: (StepError & { retryable?: boolean }) | null;
  parent_id: string | null;
  origin: Record<string, unknown> | null;
  settings: Record<string, unknown>;
  created_at: string | null;
  started_at: string | null;
  ended_at: string | null;
}

export interface PlanJson {
  levels: string[][];
  nodes: Record<string, { type: string; inline: boolean; upstream: string[]; on_error: string }>;
  edges: Array<{ from: string; to: string; port: string | null }>;
}

export interface WorkflowJson {
  workflow: { id: string; version: string; name: string | null; definition: Record<string, any> };
  compile: { valid: boolean; plan: PlanJson | null };
}

/** One step as the monitor shows it. */
export interface LiveStep {
  state: string; // pending, running, retrying, paused, completed, failed, skipped, cancelled
  attempts?: number;
  started?: string | null;
  ended?: string | null;
  duration_ms?: number | null;
  output?: unknown;
  truncated?: boolean;
  error?: StepError | null;
}

export type LiveSteps = Record<string, LiveStep>;

export const TERMINAL = new Set(["completed", "failed", "cancelled"]);
export const DONE_STATES = new Set(["completed", "failed", "skipped", "cancelled"]);

/** The words a step's state is shown with (never a colour alone). */
export const STATE_WORD: Record<string, string> = {
  pending: "queued",
  running: "running",
  retrying: "retrying",
  paused: "paused",
  completed: "completed",
  failed: "failed",
  skipped: "skipped",
  cancelled: "cancelled",
};

export function stateWord(state: string | undefined): string {
  return STATE_WORD[state ?? "pending"] ?? state ?? "queued";
}

/** Steps as the record has them (also the steps a retry copied, which have no events). */
export function stepsFromRecord(record: ExecutionJson): LiveSteps {
  const steps: LiveSteps = {};
  for (const step of record.steps) {
    steps[step.node_id] = {
      state: step.status,
      attempts: step.attempts,
      started: step.started_at,
      ended: step.ended_at,
      duration_ms: step.duration_ms,
      output: step.status === "completed" ? step.output : undefined,
      error: step.error,
    };
  }
  return steps;
}

/** ``steps`` after one event of the stream (a new object when something changed). */
export function applyEvent(steps: LiveSteps, event: HubEvent): LiveSteps {
  const node = event.node_id ?? "";
  const data = event.data ?? {};
  const previous = steps[node] ?? { state: "pending" };
  const update = (changes: Partial<LiveStep>): LiveSteps => ({ ...steps, [node]: { ...previous, ...changes } });
  switch (event.type) {
    case "step_started":
      return update({
        state: "running",
        started: previous.state === "retrying" && previous.started ? previous.started : event.ts,
        ended: null,
        attempts: Number(data.attempt ?? 1),
        error: null,
      });
    case "step_retrying":
      return update({ state: "retrying", error: { message: String(data.error ?? ""), category: String(data.category ?? "") } });
    case "step_completed":
      return update({
        state: "completed",
        ended: event.ts,
        duration_ms: (data.duration_ms as number | undefined) ?? null,
        output: "output" in data ? data.output : data.output_preview,
        truncated: Boolean(data.output_truncated),
        error: null,
      });
    case "step_failed":
      return update({
        state: "failed",
        ended: event.ts,
        duration_ms: (data.duration_ms as number | undefined) ?? null,
        error: (data.error as StepError | undefined) ?? null,
      });
    case "step_skipped":
      return update({ state: "skipped", ended: event.ts });
    case "step_cancelled":
      return update({ state: "cancelled", ended: event.ts, duration_ms: (data.duration_ms as number | undefined) ?? null });
    case "paused": {
      const held = new Set<string>([...((data.next as string[] | undefined) ?? []), ...(event.node_id ? [event.node_id] : [])]);
      const next = { ...steps };
      for (const id of held) {
        const step = next[id] ?? { state: "pending" };
        if (step.state === "pending") next[id] = { ...step, state: "paused" };
      }
      return next;
    }
    case "resumed":
    case "execution_completed":
    case "execution_failed":
    case "execution_cancelled": {
      const next = { ...steps };
      for (const [id, step] of Object.entries(next)) if (step.state === "paused") next[id] = { ...step, state: "pending" };
      return next;
    }
    default:
      return steps;
  }
}

/** Events after which the record (status, error, settings) is read again. */
export const RECORD_EVENTS = new Set([
  "execution_started",
  "execution_resumed",
  "execution_completed",
  "execution_failed",
  "execution_cancelled",
  "paused",
  "resumed",
  "step_failed",
]);

/** Node ids in reading order: level by level, as the plan runs them. */
export function nodeOrder(plan: PlanJson): string[] {
  const seen = new Set<string>();
  const order: string[] = [];
  for (const level of plan.levels) for (const id of level) if (!seen.has(id)) (seen.add(id), order.push(id));
  for (const id of Object.keys(plan.nodes)) if (!seen.has(id)) (seen.add(id), order.push(id));
  return order;
}

export function preview(value: unknown, limit = 240): string {
  let text: string;
  try {
    text = typeof value === "string" ? value : JSON.stringify(value);
  } catch {
    text = String(value);
  }
  if (text === undefined) return "null";
  return text.length > limit ? `${text.slice(0, limit)}…` : text;
}

export function shortId(id: string): string {
  return id.length > 12 ? id.slice(0, 12) : id;
}

const ITEM_ID = /^([A-Za-z_][A-Za-z0-9_]*)\[(\d+)\]$/;

/** A foreach's item rows (``each[3]``, docs/dsl.md "Loops") apart from the steps of the plan's
 * nodes, by the foreach's node id, in index order. */
export function splitItems(steps: StepJson[]): { plain: StepJson[]; items: Map<string, StepJson[]> } {
  const plain: StepJson[] = [];
  const items = new Map<string, StepJson[]>();
  for (const step of steps) {
    const match = ITEM_ID.exec(step.node_id);
    if (!match) plain.push(step);
    else items.set(match[1], [...(items.get(match[1]) ?? []), step]);
  }
  const index = (step: StepJson) => Number(ITEM_ID.exec(step.node_id)?.[2] ?? 0);
  for (const rows of items.values()) rows.sort((a, b) => index(a) - index(b));
  return { plain, items };
}
