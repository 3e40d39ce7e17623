// One execution on one page (/ui/executions/{id}): a header with its status, progress and
// cancel/pause/resume, and tabs for the live monitor (graph, timeline, outputs), the detail,
// the live logs, the debugger (debug runs and paused ones) and error recovery (failed runs).
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { Link } from "wouter-preact";
import { ApiFailure, follow, get, type HubEvent, post } from "../api";
import { announce, ErrorNote, Loading, Section, StatusBadge, useTitle } from "../components/common";
import { DebugPanel } from "./execution-debug";
import { DetailPanel } from "./execution-detail";
import { OutputPreviews, Timeline, WorkflowGraph } from "./execution-graph";
import { LogsPanel } from "./execution-logs";
import {
  applyEvent,
  DONE_STATES,
  type ExecutionJson,
  type LiveSteps,
  nodeOrder,
  type PlanJson,
  RECORD_EVENTS,
  shortId,
  splitItems,
  stepsFromRecord,
  TERMINAL,
  type WorkflowJson,
} from "./execution-model";
import { RecoveryPanel } from "./execution-recovery";
import "./execution.css";

type TabId = "monitor" | "detail" | "logs" | "debug" | "recovery";
const TAB_LABEL: Record<TabId, string> = {
  monitor: "Monitor",
  detail: "Detail",
  logs: "Logs",
  debug: "Debug",
  recovery: "Recovery",
};

export function ExecutionPage({ executionId }: { executionId: string }) {
  // A new id (a retry opens its execution) starts a fresh page: no state carried over.
  return <Execution key={executionId} executionId={executionId} />;
}

/** The plan of a workflow version that is gone: the steps the record has, without edges. */
function planFromSteps(record: ExecutionJson): PlanJson {
  const { plain } = splitItems(record.steps); // a foreach's items are not nodes of the graph
  const ids = plain.map((s) => s.node_id);
  return {
    levels: [ids],
    nodes: Object.fromEntries(plain.map((s) => [s.node_id, { type: s.node_type, inline: false, upstream: [], on_error: "" }])),
    edges: [],
  };
}

function useRecord(executionId: string) {
  const [record, setRecord] = useState<ExecutionJson | null>(null);
  const [error, setError] = useState<unknown>(null);
  const state = useRef({ busy: false, again: false });
  const load = () => {
    if (state.current.busy) {
      state.current.again = true; // one more read after this one, never two at once
      return;
    }
    state.current.busy = true;
    get<ExecutionJson>(`/executions/${executionId}`)
      .then(
        (found) => {
          setRecord(found);
          setError(null);
        },
        setError,
      )
      .finally(() => {
        state.current.busy = false;
        if (state.current.again) {
          state.current.again = false;
          load();
        }
      });
  };
  useEffect(load, [executionId]);
  return { record, error, reload: load, setRecord };
}

function Execution({ executionId }: { executionId: string }) {
  const { record, error, reload } = useRecord(executionId);
  const [workflow, setWorkflow] = useState<WorkflowJson | null>(null);
  const [workflowError, setWorkflowError] = useState<unknown>(null);
  const [live, setLive] = useState<LiveSteps>({});
  const [stream, setStream] = useState<string>("connecting");
  const [debugTick, setDebugTick] = useState(0);
  const [everPaused, setEverPaused] = useState(false);
  // Parked in a long delay (docs/dsl.md, "Sleeping executions"): when it is due, or null.
  const [sleepingUntil, setSleepingUntil] = useState<string | null>(null);
  const [tab, setTab] = useState<TabId>(() => {
    const hash = window.location.hash.slice(1) as TabId;
    return hash in TAB_LABEL ? hash : "monitor";
  });
  const [visited, setVisited] = useState<Set<TabId>>(new Set([tab]));
  const [selected, setSelected] = useState<string | null>(null);
  const [controlError, setControlError] = useState<unknown>(null);
  const [now, setNow] = useState(Date.now());
  const tabRefs = useRef<Record<string, HTMLButtonElement | null>>({});
  const lastStatus = useRef<string | null>(null);
  const fullId = record?.id ?? null;
  useTitle(`Execution ${shortId(fullId ?? executionId)}`);

  // The workflow version's plan (the graph's nodes and edges).
  useEffect(() => {
    if (!record) return;
    const { workflow_id, workflow_version } = record;
    get<WorkflowJson>(`/workflows/${encodeURIComponent(workflow_id)}?version=${encodeURIComponent(workflow_version)}`).then(
      setWorkflow,
      setWorkflowError,
    );
  }, [record?.workflow_id, record?.workflow_version]);

  // The event stream: every event from the first, live until the terminal one.
  useEffect(() => {
    if (!fullId) return;
    // Events come in bursts (a fast run sends hundreds within milliseconds): they are folded
    // into the step states once per frame, so the page renders once per frame, not per event.
    let pending: HubEvent[] = [];
    let frame = 0;
    const flush = () => {
      frame = 0;
      const batch = pending;
      pending = [];
      setLive((steps) => batch.reduce(applyEvent, steps));
      if (batch.some((e) => e.type === "paused")) setEverPaused(true);
      if (batch.some((e) => e.type === "paused" || e.type === "resumed")) setDebugTick((t) => t + 1);
      if (batch.some((e) => RECORD_EVENTS.has(e.type))) reload();
      for (const e of batch) {
        if (e.type === "execution_sleeping") setSleepingUntil(String(e.data?.until ?? ""));
        else if (e.type === "execution_resumed" || RECORD_EVENTS.has(e.type)) setSleepingUntil(null);
      }
    };
    const stop = follow(
      `/executions/${fullId}/events`,
      (event: HubEvent) => {
        pending.push(event);
        if (!frame) frame = window.requestAnimationFrame(flush);
      },
      setStream,
    );
    return () => {
      stop();
      if (frame) window.cancelAnimationFrame(frame);
    };
  }, [fullId]);

  // Say status changes (not the first status: that is the page itself).
  useEffect(() => {
    if (!record) return;
    if (lastStatus.current !== null && lastStatus.current !== record.status) announce(`Execution ${record.status}`);
    lastStatus.current = record.status;
  }, [record?.status]);

  const terminal = record ? TERMINAL.has(record.status) : false;
  useEffect(() => {
    if (!record || terminal) return;
    const timer = window.setInterval(() => setNow(Date.now()), 1000);
    return () => window.clearInterval(timer);
  }, [record?.status]);

  const plan: PlanJson | null = workflow?.compile.plan ?? (workflowError && record ? planFromSteps(record) : null);
  const order = useMemo(() => (plan ? nodeOrder(plan) : []), [plan]);
  // The record's steps (also those a retry copied), overlaid by what the stream said since.
  const steps: LiveSteps = useMemo(() => {
    const base = record ? stepsFromRecord(record) : {};
    const merged: LiveSteps = { ...base };
    for (const [id, step] of Object.entries(live)) merged[id] = { ...base[id], ...step };
    if (terminal) for (const [id, step] of Object.entries(base)) merged[id] = { ...merged[id], ...step };
    return merged;
  }, [record, live, terminal]);

  if (error) {
    return (
      <>
        <h1>Execution {shortId(executionId)}</h1>
        <ErrorNote error={error} title="Could not load this execution" />
        <p>
          <Link href="/executions">Back to the executions</Link>
        </p>
      </>
    );
  }
  if (!record) {
    return (
      <>
        <h1>Execution {shortId(executionId)}</h1>
        <Loading what="the execution" />
      </>
    );
  }

  const status = record.status;
  const total = order.length || record.steps.length;
  const done = order.filter((id) => DONE_STATES.has(steps[id]?.state ?? "")).length;
  const debugMode = Boolean((record.settings?.options as Record<string, unknown> | undefined)?.debug);
  const tabs: TabId[] = ["monitor", "detail", "logs"];
  if (debugMode || status === "paused" || everPaused) tabs.push("debug");
  if (status === "failed" || status === "cancelled") tabs.push("recovery");
  const current: TabId = tabs.includes(tab) ? tab : "monitor";

  const choose = (next: TabId, focus = false) => {
    setTab(next);
    setVisited((seen) => new Set([...seen, next]));
    window.history.replaceState(window.history.state, "", `#${next}`);
    if (focus) tabRefs.current[next]?.focus();
  };

  const control = async (action: "cancel" | "pause" | "resume") => {
    setControlError(null);
    try {
      await post(`/executions/${record.id}/${action}`);
      reload();
    } catch (failure) {
      setControlError(failure);
      if (failure instanceof ApiFailure && failure.status === 409) reload();
    }
  };

  const open = (node: string) => {
    setSelected(node);
    choose("detail");
  };

  return (
    <>
      <h1>
        Execution <code>{shortId(record.id)}</code>
      </h1>
      <div class="exec-header panel">
        <p class="exec-facts">
          <span>
            Workflow <Link href={`/workflows/${record.workflow_id}`}>{workflow?.workflow.name || record.workflow_id}</Link>{" "}
            version {record.workflow_version}
          </span>
          <span>
            Status <StatusBadge status={status} />
          </span>
          {debugMode && <span class="badge status-paused">debug run</span>}
          {sleepingUntil && !terminal && (
            <span class="badge status-paused" title="Its execution actor is released until the delay is due">
              sleeping until {new Date(sleepingUntil).toLocaleString()}
            </span>
          )}
          {!terminal && <span class="help">{stream === "open" ? "Live" : stream === "reconnecting" ? "Reconnecting…" : "Connecting…"}</span>}
        </p>
        <div class="exec-progress">
          <progress id="exec-progress" max={Math.max(total, 1)} value={done} aria-labelledby="exec-progress-text" />
          <span id="exec-progress-text">
            {done}/{total} steps done
          </span>
        </div>
        <div class="toolbar" role="group" aria-label="Execution controls">
          <button type="button" class="danger" disabled={terminal} onClick={() => control("cancel")}>
            Cancel
          </button>
          <button type="button" class="secondary" disabled={status !== "running" || !!sleepingUntil} onClick={() => control("pause")}>
            Pause
          </button>
          <button type="button" class="secondary" disabled={status !== "paused"} onClick={() => control("resume")}>
            Resume
          </button>
        </div>
        <ErrorNote error={controlError} title="The execution refused" />
      </div>

      <div class="tabs" role="tablist" aria-label="Execution views">
        {tabs.map((id, index) => (
          <button
            key={id}
            type="button"
            role="tab"
            id={`tab-${id}`}
            ref={(el) => {
              tabRefs.current[id] = el;
            }}
            aria-selected={current === id}
            aria-controls={`panel-${id}`}
            tabIndex={current === id ? 0 : -1}
            onClick={() => choose(id)}
            onKeyDown={(event) => {
              const last = tabs.length - 1;
              const to =
                event.key === "ArrowRight"
                  ? tabs[index === last ? 0 : index + 1]
                  : event.key === "ArrowLeft"
                    ? tabs[index === 0 ? last : index - 1]
                    : event.key === "Home"
                      ? tabs[0]
                      : event.key === "End"
                        ? tabs[last]
                        : null;
              if (to) {
                event.preventDefault();
                choose(to, true);
              }
            }}
          >
            {TAB_LABEL[id]}
          </button>
        ))}
      </div>

      {tabs.map((id) =>
        visited.has(id) || current === id ? (
          <div key={id} role="tabpanel" id={`panel-${id}`} aria-labelledby={`tab-${id}`} tabIndex={0} hidden={current !== id}>
            {id === "monitor" &&
              (plan ? (
                <>
                  <Section title="Graph" id="monitor-graph">
                    {workflowError ? (
                      <p class="warn-note">The workflow version is gone; the graph shows the recorded steps without their edges.</p>
                    ) : null}
                    <p class="help">Each step shows its live state. Arrow keys move between steps; Enter opens a step's detail.</p>
                    <WorkflowGraph
                      plan={plan}
                      steps={steps}
                      label={`Workflow graph of ${record.workflow_id}, ${total} steps`}
                      idPrefix="monitor"
                      selected={selected}
                      onOpen={open}
                    />
                  </Section>
                  <Section title="Timeline" id="monitor-timeline">
                    <Timeline order={order} steps={steps} startedAt={record.started_at} endedAt={record.ended_at} now={now} />
                  </Section>
                  <Section title="Outputs" id="monitor-outputs">
                    <OutputPreviews order={order} steps={steps} />
                  </Section>
                </>
              ) : (
                <Loading what="the workflow graph" />
              ))}
            {id === "detail" && <DetailPanel record={record} selected={selected} />}
            {id === "logs" && <LogsPanel executionId={record.id} terminal={terminal} />}
            {id === "debug" &&
              (plan ? (
                <DebugPanel executionId={record.id} plan={plan} steps={steps} status={status} tick={debugTick} />
              ) : (
                <Loading what="the workflow graph" />
              ))}
            {id === "recovery" && <RecoveryPanel record={record} definition={workflow?.workflow.definition ?? null} />}
          </div>
        ) : null,
      )}
    </>
  );
}
