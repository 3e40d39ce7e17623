// Error recovery for a failed (or cancelled) run: the error with its category and suggestions,
// then retry from the failed step, retry one step with edited parameters, or skip it with a
// substitute output. Each makes a new execution, whose page opens.
import { useState } from "preact/hooks";
import { useLocation } from "wouter-preact";
import { ApiFailure, post } from "../api";
import { announce, ErrorNote, Section } from "../components/common";
import { ErrorSummary } from "./execution-detail";
import type { ExecutionJson } from "./execution-model";

interface Accepted {
  execution_id: string;
}

function parseJson(text: string): { value?: unknown; error?: string } {
  try {
    return { value: JSON.parse(text) };
  } catch (error) {
    return { error: `not valid JSON: ${(error as Error).message}` };
  }
}

function serverError(error: unknown): string | null {
  if (!(error instanceof ApiFailure)) return null;
  const fields = error.fieldErrors();
  const listed = Object.entries(fields).map(([path, message]) => (path ? `${path}: ${message}` : message));
  const diagnostics = error.details.diagnostics;
  if (Array.isArray(diagnostics))
    for (const d of diagnostics as Array<Record<string, unknown>>) listed.push(`${d.path ?? ""}: ${d.message ?? ""}`);
  return listed.length ? listed.join("; ") : null;
}

function JsonField({
  id,
  label,
  help,
  value,
  onInput,
  error,
}: {
  id: string;
  label: string;
  help: string;
  value: string;
  onInput: (text: string) => void;
  error: string | null;
}) {
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <p class="help" id={`${id}-help`}>
        {help}
      </p>
      <textarea
        id={id}
        class="mono json-editor"
        rows={8}
        spellcheck={false}
        value={value}
        aria-invalid={error ? "true" : undefined}
        aria-describedby={error ? `${id}-help ${id}-error` : `${id}-help`}
        onInput={(e) => onInput((e.currentTarget as HTMLTextAreaElement).value)}
      />
      {error && (
        <p id={`${id}-error`} class="field-error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

export function RecoveryPanel({ record, definition }: { record: ExecutionJson; definition: Record<string, any> | null }) {
  const [, navigate] = useLocation();
  const failedSteps = record.steps.filter((s) => s.status === "failed").map((s) => s.node_id);
  const initial = record.error?.node_id ?? failedSteps[0] ?? "";
  const [node, setNode] = useState(initial);
  const nodeSpec = (definition?.nodes as Array<Record<string, any>> | undefined)?.find((n) => n.id === node);
  const [parameters, setParameters] = useState<Record<string, string>>({});
  const [outputText, setOutputText] = useState("{}");
  const [paramError, setParamError] = useState<string | null>(null);
  const [outputError, setOutputError] = useState<string | null>(null);
  const [failure, setFailure] = useState<unknown>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const paramText = parameters[node] ?? JSON.stringify(nodeSpec?.parameters ?? {}, null, 2);
  const base = `/executions/${record.id}`;

  const start = async (what: string, path: string, body: unknown, onFieldError?: (m: string) => void) => {
    setBusy(what);
    setFailure(null);
    try {
      const accepted = await post<Accepted>(`${base}/${path}`, body);
      announce(`${what}: execution ${accepted.execution_id.slice(0, 12)} started`);
      navigate(`/executions/${accepted.execution_id}`);
    } catch (error) {
      const message = serverError(error);
      if (message && onFieldError) onFieldError(message);
      else setFailure(error);
    } finally {
      setBusy(null);
    }
  };

  const retryStep = (event: Event) => {
    event.preventDefault();
    const parsed = parseJson(paramText);
    if (parsed.error || typeof parsed.value !== "object" || parsed.value === null || Array.isArray(parsed.value)) {
      setParamError(parsed.error ?? "the parameters must be a JSON object");
      return;
    }
    setParamError(null);
    void start("Retry with edited parameters", "retry-step", { node_id: node || null, parameters: parsed.value }, setParamError);
  };

  const skip = (event: Event) => {
    event.preventDefault();
    const parsed = parseJson(outputText);
    if (parsed.error) {
      setOutputError(parsed.error);
      return;
    }
    setOutputError(null);
    void start("Skip with substitute output", "skip-step", { node_id: node || null, output: parsed.value }, setOutputError);
  };

  return (
    <>
      <Section title="What went wrong" id="recovery-error">
        {record.error ? <ErrorSummary error={record.error} /> : <p>The execution ended {record.status} without an error record.</p>}
      </Section>
      <ErrorNote error={failure} title="The recovery was refused" />
      <Section title="Retry from the failed step" id="recovery-retry">
        <p class="help">
          A new execution reuses the completed steps and runs the failed step again, then the steps after it. Fix the cause
          first (a setting, a credential, the service it calls).
        </p>
        <button type="button" disabled={busy !== null} onClick={() => start("Retry from the failed step", "retry", {})}>
          Retry from failed step
        </button>
      </Section>
      {(failedSteps.length > 0 || record.error?.node_id) && (
        <>
          {failedSteps.length > 1 && (
            <div class="field">
              <label for="recovery-node">Step to recover</label>
              <select id="recovery-node" value={node} onChange={(e) => setNode((e.currentTarget as HTMLSelectElement).value)}>
                {failedSteps.map((id) => (
                  <option key={id} value={id}>
                    {id}
                  </option>
                ))}
              </select>
            </div>
          )}
          <Section title={`Retry ${node} with edited parameters`} id="recovery-retry-step">
            <form onSubmit={retryStep}>
              <JsonField
                id="recovery-parameters"
                label={`Parameters of ${node}`}
                help="Replaced over the document's parameters for this run only; the workflow is compiled with them first."
                value={paramText}
                error={paramError}
                onInput={(text) => {
                  setParameters({ ...parameters, [node]: text });
                  setParamError(null);
                }}
              />
              <button type="submit" disabled={busy !== null}>
                Retry this step with edited parameters
              </button>
            </form>
          </Section>
          {record.status === "failed" && (
            <Section title={`Skip ${node} with a substitute output`} id="recovery-skip">
              <form onSubmit={skip}>
                <JsonField
                  id="recovery-output"
                  label={`Output to use for ${node}`}
                  help="The step is recorded as completed with this output and the run goes on from there."
                  value={outputText}
                  error={outputError}
                  onInput={(text) => {
                    setOutputText(text);
                    setOutputError(null);
                  }}
                />
                <button type="submit" disabled={busy !== null}>
                  Skip with substitute output
                </button>
              </form>
            </Section>
          )}
        </>
      )}
    </>
  );
}
