// Execution detail: summary, inputs (secrets arrive as ***), settings used, the error, every
// step's input, output and error, and the executions this one came from or led to.
import { useEffect, useState } from "preact/hooks";
import { Link } from "wouter-preact";
import { get, query } from "../api";
import { duration, ErrorNote, Json, Loading, Section, StatusBadge, useLoad, when } from "../components/common";
import { splitItems } from "./execution-model";
import type { ExecutionJson, StepError, StepJson } from "./execution-model";

export function ErrorSummary({ error, headingLevel = 3 }: { error: StepError; headingLevel?: 2 | 3 | 4 }) {
  const Heading = `h${headingLevel}` as "h3";
  return (
    <div class="error-box">
      <p>
        <strong>{error.message}</strong>
      </p>
      <dl class="facts">
        <div>
          <dt>Category</dt>
          <dd>
            <code>{error.category}</code>
          </dd>
        </div>
        {error.severity && (
          <div>
            <dt>Severity</dt>
            <dd>{error.severity}</dd>
          </div>
        )}
        {error.node_id && (
          <div>
            <dt>Step</dt>
            <dd>
              <code>{error.node_id}</code>
            </dd>
          </div>
        )}
        {error.attempts !== undefined && (
          <div>
            <dt>Attempts</dt>
            <dd>{error.attempts}</dd>
          </div>
        )}
      </dl>
      {error.suggestions && error.suggestions.length > 0 && (
        <>
          <Heading>Suggestions</Heading>
          <ul>
            {error.suggestions.map((s) => (
              <li key={s}>{s}</li>
            ))}
          </ul>
        </>
      )}
    </div>
  );
}

const ITEMS_SHOWN = 50;

/** A foreach's item rows, folded: how many ended how, then the rows (failed ones first), at
 * most ITEMS_SHOWN of them. */
function ItemRows({ executionId, owner, rows, selected }: { executionId: string; owner: string; rows: StepJson[]; selected: string | null }) {
  const counts = new Map<string, number>();
  for (const row of rows) counts.set(row.status, (counts.get(row.status) ?? 0) + 1);
  const summary = [...counts].map(([status, n]) => `${n} ${status}`).join(", ");
  const ordered = [...rows.filter((r) => r.error), ...rows.filter((r) => !r.error)];
  const shown = ordered.slice(0, ITEMS_SHOWN);
  return (
    <details id={`items-${owner}`} class="step-detail" open={shown.some((r) => r.node_id === selected)}>
      <summary>
        <code>{owner}</code> <span class="help">items</span>: {summary}
      </summary>
      <div class="step-body">
        {shown.map((step) => (
          <StepDetail key={`${step.node_id}-${step.status}`} executionId={executionId} step={step} open={selected === step.node_id} />
        ))}
        {rows.length > shown.length && (
          <p class="help">
            {rows.length - shown.length} more items; <code>hub show {executionId.slice(0, 12)} --json</code> lists every one.
          </p>
        )}
      </div>
    </details>
  );
}

function StepDetail({ executionId, step, open }: { executionId: string; step: StepJson; open: boolean }) {
  const [isOpen, setOpen] = useState(open);
  const [full, setFull] = useState<StepJson | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => setOpen(open || isOpen), [open]);
  useEffect(() => {
    if (!isOpen || full) return;
    get<StepJson>(`/executions/${executionId}/steps/${encodeURIComponent(step.node_id)}`).then(setFull, setError);
  }, [isOpen, executionId, step.node_id]);
  const shown = full ?? step;
  return (
    <details
      id={`step-${step.node_id}`}
      class="step-detail"
      open={isOpen}
      onToggle={(event) => setOpen((event.currentTarget as HTMLDetailsElement).open)}
    >
      <summary>
        <code>{step.node_id}</code> <span class="help">({step.node_type})</span> <StatusBadge status={step.status} />{" "}
        {duration(step.duration_ms)}
        {step.attempts > 1 ? `, ${step.attempts} attempts` : ""}
      </summary>
      <div class="step-body">
        <dl class="facts">
          <div>
            <dt>Started</dt>
            <dd>{when(step.started_at)}</dd>
          </div>
          <div>
            <dt>Ended</dt>
            <dd>{when(step.ended_at)}</dd>
          </div>
        </dl>
        <ErrorNote error={error} title="Could not load this step" />
        <h4>Input</h4>
        {full ? <Json value={full.input ?? null} label={`Input of ${step.node_id}`} /> : isOpen && !error ? <Loading what="the step's input" /> : null}
        <h4>Output</h4>
        <Json value={shown.output ?? null} label={`Output of ${step.node_id}`} />
        {shown.error && (
          <>
            <h4>Error</h4>
            <ErrorSummary error={shown.error} headingLevel={4} />
          </>
        )}
      </div>
    </details>
  );
}

interface Summary {
  id: string;
  status: string;
  created_at: string | null;
  origin: Record<string, unknown> | null;
}

function Related({ record }: { record: ExecutionJson }) {
  const [children, error] = useLoad(
    () => get<{ items: Summary[] }>(`/executions${query({ parent_id: record.id, limit: 100, sort: "created_at" })}`),
    [record.id, record.status],
  );
  return (
    <>
      <dl class="facts">
        <div>
          <dt>Came from</dt>
          <dd>
            {record.parent_id ? (
              <>
                <Link href={`/executions/${record.parent_id}`}>execution {record.parent_id.slice(0, 12)}</Link>
                {record.origin?.kind ? ` (${String(record.origin.kind).replace("_", " ")})` : ""}
              </>
            ) : (
              "started directly"
            )}
          </dd>
        </div>
      </dl>
      <ErrorNote error={error} title="Could not load the executions made from this one" />
      {children &&
        (children.items.length ? (
          <>
            <h3>Executions made from this one</h3>
            <ul>
              {children.items.map((child) => (
                <li key={child.id}>
                  <Link href={`/executions/${child.id}`}>execution {child.id.slice(0, 12)}</Link> (
                  {String(child.origin?.kind ?? "derived").replace("_", " ")}, <StatusBadge status={child.status} />)
                </li>
              ))}
            </ul>
          </>
        ) : (
          <p class="help">No execution was made from this one.</p>
        ))}
    </>
  );
}

export function DetailPanel({ record, selected }: { record: ExecutionJson; selected: string | null }) {
  useEffect(() => {
    if (selected) document.getElementById(`step-${selected}`)?.querySelector("summary")?.focus();
  }, [selected]);
  const total =
    record.started_at && record.ended_at ? Date.parse(record.ended_at) - Date.parse(record.started_at) : null;
  const steps = splitItems(record.steps);
  return (
    <>
      <Section title="Summary" id="detail-summary">
        <dl class="facts">
          <div>
            <dt>Execution</dt>
            <dd>
              <code>{record.id}</code>
            </dd>
          </div>
          <div>
            <dt>Workflow</dt>
            <dd>
              <Link href={`/workflows/${record.workflow_id}`}>{record.workflow_id}</Link> version {record.workflow_version}
            </dd>
          </div>
          <div>
            <dt>Trigger</dt>
            <dd>{record.trigger}</dd>
          </div>
          <div>
            <dt>Created</dt>
            <dd>{when(record.created_at)}</dd>
          </div>
          <div>
            <dt>Started</dt>
            <dd>{when(record.started_at)}</dd>
          </div>
          <div>
            <dt>Ended</dt>
            <dd>{when(record.ended_at)}</dd>
          </div>
          <div>
            <dt>Duration</dt>
            <dd>{duration(total)}</dd>
          </div>
        </dl>
        <Related record={record} />
      </Section>
      {record.error && (
        <Section title="Error" id="detail-error">
          <ErrorSummary error={record.error} />
        </Section>
      )}
      <div class="row">
        <Section title="Inputs" id="detail-inputs">
          <p class="help">Secret inputs are shown as ***.</p>
          <Json value={record.inputs} label="Inputs" />
        </Section>
        <Section title="Settings used" id="detail-settings">
          <Json value={record.settings} label="Settings used" />
        </Section>
      </div>
      {Object.keys(record.outputs ?? {}).length > 0 && (
        <Section title="Outputs" id="detail-outputs">
          <Json value={record.outputs} label="Outputs" />
        </Section>
      )}
      <Section title="Steps" id="detail-steps">
        {record.steps.length === 0 && <p class="help">No step has run yet.</p>}
        {steps.plain.map((step) => (
          <StepDetail key={`${step.node_id}-${step.status}`} executionId={record.id} step={step} open={selected === step.node_id} />
        ))}
        {[...steps.items].map(([owner, rows]) => (
          <ItemRows key={owner} executionId={record.id} owner={owner} rows={rows} selected={selected} />
        ))}
      </Section>
    </>
  );
}
