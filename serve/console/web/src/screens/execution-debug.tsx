// Step debugging: where the run holds and what it has (GET …/debug), breakpoints set from the
// graph with optional conditions (PUT …/breakpoints), Step, Continue, and an evaluate box.
import { useEffect, useState } from "preact/hooks";
import { ApiFailure, get, post, put } from "../api";
import { announce, ErrorNote, Json, Loading, Section, StatusBadge } from "../components/common";
import { WorkflowGraph } from "./execution-graph";
import { type LiveSteps, nodeOrder, type PlanJson, TERMINAL } from "./execution-model";

interface Breakpoint {
  node_id: string;
  condition: string | null;
}

interface DebugView {
  execution_id: string;
  status: string;
  hold_reason: string | null;
  hold_node: string | null;
  detail: string | null;
  inputs: Record<string, unknown>;
  outputs: Record<string, unknown>;
  next: Array<{ node_id: string; node_type: string; upstream: string[]; parameters: unknown; breakpoint: boolean }>;
  running: string[];
  finished: string[];
  breakpoints: Breakpoint[];
}

const HOLD_REASON: Record<string, string> = {
  start: "at the start of the run",
  pause: "because it was paused",
  breakpoint: "at a breakpoint",
  step: "after a step",
};

export function DebugPanel({
  executionId,
  plan,
  steps,
  status,
  tick,
}: {
  executionId: string;
  plan: PlanJson;
  steps: LiveSteps;
  status: string;
  /** Changes when the run pauses or resumes: the view is read again. */
  tick: number;
}) {
  const base = `/executions/${executionId}`;
  const [view, setView] = useState<DebugView | null>(null);
  const [viewError, setViewError] = useState<unknown>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [conditions, setConditions] = useState<Record<string, string>>({});
  const [breaks, setBreaks] = useState<Set<string>>(new Set());
  const [expression, setExpression] = useState("");
  const [evaluated, setEvaluated] = useState<{ expression: string; value: unknown } | null>(null);
  const [evalError, setEvalError] = useState<ApiFailure | unknown>(null);
  const terminal = TERMINAL.has(status);

  const adopt = (found: DebugView) => {
    setView(found);
    setBreaks(new Set(found.breakpoints.map((b) => b.node_id)));
    setConditions(Object.fromEntries(found.breakpoints.map((b) => [b.node_id, b.condition ?? ""])));
  };

  useEffect(() => {
    if (terminal) return;
    let live = true;
    get<DebugView>(`${base}/debug`).then(
      (found) => {
        if (!live) return;
        setViewError(null);
        adopt(found);
      },
      (error) => live && setViewError(error),
    );
    return () => {
      live = false;
    };
  }, [executionId, tick, terminal]);

  const apply = async (nodes: Set<string>, conds: Record<string, string>) => {
    setActionError(null);
    const body = {
      breakpoints: [...nodes].map((node_id) => ({ node_id, condition: conds[node_id]?.trim() || null })),
    };
    try {
      adopt(await put<DebugView>(`${base}/breakpoints`, body));
      announce(`Breakpoints saved: ${nodes.size}`);
    } catch (error) {
      setActionError(error);
    }
  };

  const toggle = (node: string) => {
    const next = new Set(breaks);
    if (next.has(node)) next.delete(node);
    else next.add(node);
    setBreaks(next);
    void apply(next, conditions);
  };

  const act = async (action: "step" | "continue") => {
    setBusy(true);
    setActionError(null);
    try {
      await post(`${base}/${action}`);
      announce(action === "step" ? "Stepping: running the next steps" : "Continuing to the next breakpoint or the end");
    } catch (error) {
      setActionError(error);
    } finally {
      setBusy(false);
    }
  };

  const evaluate = async (event: Event) => {
    event.preventDefault();
    setEvalError(null);
    setEvaluated(null);
    try {
      const result = await post<{ expression: string; value: unknown }>(`${base}/evaluate`, { expression });
      setEvaluated(result);
    } catch (error) {
      setEvalError(error);
    }
  };

  const paused = view?.status === "paused" && !terminal && status === "paused";
  const order = nodeOrder(plan);
  return (
    <>
      <Section title="Where the run holds" id="debug-state">
        {terminal ? (
          <p>
            The run has ended (<StatusBadge status={status} />
            ): there is nothing left to debug.
          </p>
        ) : viewError ? (
          <ErrorNote error={viewError} title="Could not read the paused state" />
        ) : !view ? (
          <Loading what="the paused state" />
        ) : (
          <>
            <p>
              <StatusBadge status={view.status} />{" "}
              {view.status === "paused"
                ? `Paused ${HOLD_REASON[view.hold_reason ?? ""] ?? ""}${view.hold_node ? ` before ${view.hold_node}` : ""}.`
                : "Running: the state is shown when it pauses."}
              {view.detail && <span class="help"> {view.detail}</span>}
            </p>
            <div class="toolbar">
              <button type="button" disabled={!paused || busy} onClick={() => act("step")}>
                Step
              </button>
              <button type="button" disabled={!paused || busy} onClick={() => act("continue")}>
                Continue
              </button>
            </div>
            {view.next.length > 0 && (
              <>
                <h3>Next steps, with their parameters resolved</h3>
                {view.next.map((n) => (
                  <div key={n.node_id}>
                    <p>
                      <code>{n.node_id}</code> <span class="help">({n.node_type})</span>
                      {n.breakpoint ? " · breakpoint" : ""}
                    </p>
                    <Json value={n.parameters} label={`Parameters of ${n.node_id}`} />
                  </div>
                ))}
              </>
            )}
          </>
        )}
        <ErrorNote error={actionError} title="The debugger refused" />
      </Section>

      {!terminal && (
        <Section title="Evaluate" id="debug-evaluate">
          <form onSubmit={evaluate} class="toolbar">
            <div class="field grow">
              <label for="debug-expression">Expression</label>
              <input
                id="debug-expression"
                class="mono"
                value={expression}
                placeholder="$input.name"
                aria-invalid={evalError ? "true" : undefined}
                aria-describedby={evalError ? "debug-expression-error" : undefined}
                onInput={(e) => setExpression((e.currentTarget as HTMLInputElement).value)}
              />
            </div>
            <button type="submit" disabled={!expression.trim()}>
              Evaluate
            </button>
          </form>
          {evalError ? (
            <p id="debug-expression-error" class="field-error" role="alert">
              {evalError instanceof ApiFailure ? `${evalError.code}: ${evalError.message}` : String(evalError)}
            </p>
          ) : null}
          {evaluated && (
            <div role="status">
              <p>
                Value of <code>{evaluated.expression}</code>:
              </p>
              <Json value={evaluated.value} label="Value" />
            </div>
          )}
        </Section>
      )}

      <Section title="Breakpoints" id="debug-breakpoints">
        <p class="help">
          Choose a step on the graph (or tick it below) to stop before it; a condition, such as <code>$a.x &gt; 10</code>,
          stops only when it is true.
        </p>
        <WorkflowGraph
          plan={plan}
          steps={steps}
          label="Workflow graph: choose a step to set or clear its breakpoint"
          idPrefix="debug"
          breakpoints={breaks}
          onOpen={(node) => {
            if (terminal) return;
            toggle(node);
          }}
        />
        <form
          onSubmit={(event) => {
            event.preventDefault();
            void apply(breaks, conditions);
          }}
        >
          <table class="breakpoints">
            <thead>
              <tr>
                <th scope="col">Step</th>
                <th scope="col">Breakpoint</th>
                <th scope="col">Condition (optional)</th>
              </tr>
            </thead>
            <tbody>
              {order.map((node) => (
                <tr key={node}>
                  <th scope="row">
                    <code>{node}</code>
                  </th>
                  <td>
                    <input
                      type="checkbox"
                      id={`break-${node}`}
                      checked={breaks.has(node)}
                      disabled={terminal}
                      onChange={() => toggle(node)}
                    />
                    <label for={`break-${node}`} class="inline">
                      Stop before {node}
                    </label>
                  </td>
                  <td>
                    <label for={`cond-${node}`} class="sr-only">
                      Condition for {node}
                    </label>
                    <input
                      id={`cond-${node}`}
                      class="mono"
                      value={conditions[node] ?? ""}
                      disabled={terminal || !breaks.has(node)}
                      onInput={(e) => setConditions({ ...conditions, [node]: (e.currentTarget as HTMLInputElement).value })}
                    />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <button type="submit" disabled={terminal}>
            Save breakpoints
          </button>
        </form>
      </Section>

      {view && !terminal && (
        <div class="row">
          <Section title="Inputs" id="debug-inputs">
            <Json value={view.inputs} label="Inputs (secrets as ***)" />
          </Section>
          <Section title="Outputs so far" id="debug-outputs">
            <Json value={view.outputs} label="Outputs so far" />
          </Section>
        </div>
      )}
    </>
  );
}
