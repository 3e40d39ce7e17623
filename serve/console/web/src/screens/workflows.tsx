// Workflows: the list of registered workflows, and the compilation status screen (a JSON editor
// compiled on save, diagnostics that jump to their place, plan levels, input schema, versions).
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { Link, useLocation } from "wouter-preact";
import { ApiFailure, get, post, query } from "../api";
import { announce, ErrorNote, Loading, Section, useLoad, useTitle, when } from "../components/common";
import { CodeEditor, type Diagnostic, type EditorHandle } from "./workflows-code";
import { type CompileReport, CompileState, InputSchema, type Outcome, PlanLevels, summary } from "./workflows-report";
import "./workflows.css";

interface WorkflowSummary {
  id: string;
  version: string;
  name?: string | null;
  description?: string | null;
  created_at: string;
}

interface WorkflowSaved {
  workflow: WorkflowSummary & { definition: Record<string, unknown>; diagnostics: Diagnostic[] };
  compile: CompileReport;
}

export function WorkflowList() {
  useTitle("Workflows");
  const [list, error] = useLoad(() => get<{ items: WorkflowSummary[] }>("/workflows"), []);
  return (
    <>
      <h1>Workflows</h1>
      <div class="toolbar">
        <Link href="/workflows/new" class="button">
          New workflow
        </Link>
      </div>
      <ErrorNote error={error} title="The workflows could not be loaded." />
      {list === undefined && !error ? <Loading what="workflows" /> : null}
      {list && !list.items.length ? (
        <p>No workflow is registered yet. Write one with “New workflow”.</p>
      ) : null}
      {list && list.items.length ? (
        <table class="workflow-list">
          <caption class="sr-only">Registered workflows, latest version of each</caption>
          <thead>
            <tr>
              <th scope="col">Workflow</th>
              <th scope="col">Name</th>
              <th scope="col">Latest version</th>
              <th scope="col">Registered</th>
              <th scope="col">Description</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {list.items.map((w) => (
              <tr key={w.id}>
                <th scope="row">
                  <Link href={`/workflows/${encodeURIComponent(w.id)}`}>{w.id}</Link>
                </th>
                <td>{w.name ?? "–"}</td>
                <td>{w.version}</td>
                <td>{when(w.created_at)}</td>
                <td>{w.description ?? "–"}</td>
                <td>
                  <Link href={`/workflows/${encodeURIComponent(w.id)}/run`} aria-label={`Run ${w.id}`}>
                    Run
                  </Link>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </>
  );
}

const STARTER = {
  id: "my-workflow",
  name: "My workflow",
  inputs: { name: { type: "string", required: true, description: "Who to greet" } },
  nodes: [{ id: "greet", type: "log", parameters: { message: "Hello {{ $input.name }}" } }],
  edges: [],
};

/** Set by a registration just before it moves to the workflow's page, which then says so. */
let justRegistered: { id: string; version: string; created: boolean } | null = null;

function pretty(value: unknown): string {
  return JSON.stringify(value, null, 2) + "\n";
}

function withoutVersion(document: Record<string, unknown>): Record<string, unknown> {
  const { version: _drop, ...rest } = document;
  return rest;
}

export function WorkflowEditor({ workflowId }: { workflowId: string | null }) {
  useTitle(workflowId ?? "New workflow");
  const [, navigate] = useLocation();
  const editor = useRef<EditorHandle | null>(null);
  const [initial, setInitial] = useState<string | null>(workflowId ? null : pretty(STARTER));
  const [versions, setVersions] = useState<string[]>([]);
  const [latest, setLatest] = useState<string | null>(null);
  const [shown, setShown] = useState<string | null>(null);
  const [readOnly, setReadOnly] = useState(false);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const [registered, setRegistered] = useState<{ id: string; version: string } | null>(null);
  const [changed, setChanged] = useState(false);
  const [busy, setBusy] = useState<"validating" | "registering" | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [cursor, setCursor] = useState({ line: 1, column: 1 });
  const pendingReport = useRef<CompileReport | null>(null);

  const show = (next: Outcome) => {
    setOutcome(next);
    if (next.kind === "report") editor.current?.mark(next.report.diagnostics);
    else editor.current?.mark([], { at: next.at, message: next.message });
  };

  const load = useCallback(
    async (version: string | null) => {
      if (!workflowId) return;
      setError(null);
      try {
        const [saved, list] = await Promise.all([
          get<WorkflowSaved>(`/workflows/${encodeURIComponent(workflowId)}${query({ version })}`),
          get<{ versions: string[] }>(`/workflows/${encodeURIComponent(workflowId)}/versions`),
        ]);
        const text = pretty(saved.workflow.definition);
        if (editor.current) editor.current.setText(text);
        else setInitial(text);
        setVersions(list.versions);
        if (version === null) setLatest(saved.workflow.version);
        setShown(saved.workflow.version);
        const older = version !== null && version !== list.versions[list.versions.length - 1];
        setReadOnly(older);
        setRegistered({ id: saved.workflow.id, version: saved.workflow.version });
        setChanged(false);
        // The editor may not exist yet (first load): mark once it is there (onReady).
        pendingReport.current = saved.compile;
        if (editor.current) show({ kind: "report", report: saved.compile });
        else setOutcome({ kind: "report", report: saved.compile });
      } catch (failure) {
        setError(failure);
      }
    },
    [workflowId],
  );

  useEffect(() => {
    if (justRegistered && justRegistered.id === workflowId) {
      const { version, created } = justRegistered;
      setNotice(created ? `Registered as version ${version}.` : `Unchanged: version ${version} is already registered.`);
      justRegistered = null;
    }
    load(null);
  }, [workflowId]);

  /** The document, or null after showing where it does not parse. */
  const parsed = (): Record<string, unknown> | null => {
    const handle = editor.current;
    if (!handle) return null;
    try {
      const value = JSON.parse(handle.text());
      if (value === null || typeof value !== "object" || Array.isArray(value)) {
        show({ kind: "unparsable", message: "a workflow is a JSON object ({ … })", at: 0, line: 1, column: 1 });
        return null;
      }
      return value as Record<string, unknown>;
    } catch (failure) {
      const where = handle.parseError();
      const message = failure instanceof Error ? failure.message : String(failure);
      show({ kind: "unparsable", message, ...where });
      return null;
    }
  };

  const validate = async () => {
    if (busy) return;
    setError(null);
    setNotice(null);
    const document = parsed();
    if (!document) {
      announce("The workflow is not valid JSON");
      return;
    }
    setBusy("validating");
    try {
      const report = await post<CompileReport>("/workflows/validate", document);
      const next: Outcome = { kind: "report", report };
      show(next);
      announce(summary(next));
    } catch (failure) {
      setError(failure);
      announce("Validation failed");
    } finally {
      setBusy(null);
    }
  };

  const register = async () => {
    if (busy) return;
    setError(null);
    setNotice(null);
    const document = parsed();
    if (!document) {
      announce("The workflow is not valid JSON");
      return;
    }
    setBusy("registering");
    try {
      let saved: WorkflowSaved;
      try {
        saved = await post<WorkflowSaved>("/workflows", document);
      } catch (failure) {
        // Same version, another definition: it changed, so it becomes the next version.
        if (!(failure instanceof ApiFailure && failure.status === 409 && typeof document.id === "string")) throw failure;
        saved = await post<WorkflowSaved>(
          `/workflows/${encodeURIComponent(document.id)}/versions`,
          withoutVersion(document),
        );
      }
      const { id, version } = saved.workflow;
      const created = !(registered?.id === id && registered.version === version && !changed);
      announce(`Registered ${id} version ${version}`);
      justRegistered = { id, version, created };
      if (id === workflowId) {
        setNotice(created ? `Registered as version ${version}.` : `Unchanged: version ${version} is already registered.`);
        justRegistered = null;
        await load(null);
      } else {
        navigate(`/workflows/${encodeURIComponent(id)}`);
      }
    } catch (failure) {
      if (failure instanceof ApiFailure && Array.isArray(failure.details.diagnostics)) {
        const report: CompileReport = { valid: false, diagnostics: failure.details.diagnostics as Diagnostic[] };
        show({ kind: "report", report });
        announce(`Not registered. ${summary({ kind: "report", report })}`);
      } else {
        setError(failure);
        announce("Registration failed");
      }
    } finally {
      setBusy(null);
    }
  };

  // Ctrl+S / Cmd+S validates, in the editor or anywhere on the page.
  const validateRef = useRef(validate);
  validateRef.current = validate;
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if ((event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === "s") {
        event.preventDefault();
        validateRef.current();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  const goTo = (path: string) => {
    if (path.startsWith("@")) editor.current?.goToOffset(Number(path.slice(1)));
    else editor.current?.goToPath(path);
  };

  const valid = outcome?.kind === "report" && outcome.report.valid;
  const ready = valid && registered !== null && !changed;
  const report = outcome?.kind === "report" ? outcome.report : null;

  return (
    <>
      <h1>{workflowId ?? "New workflow"}</h1>
      {notice ? (
        <div class="ok-note">
          {notice}{" "}
          {registered ? (
            <Link href={`/workflows/${encodeURIComponent(registered.id)}/run`}>Run {registered.id}</Link>
          ) : null}
        </div>
      ) : null}
      <ErrorNote error={error} title="The request failed." />
      <div class="row workflow-page">
        <section class="panel editor-panel" aria-labelledby="editor-heading">
          <h2 id="editor-heading">Workflow JSON</h2>
          <div class="toolbar">
            <button type="button" onClick={validate} disabled={busy !== null} aria-keyshortcuts="Control+S Meta+S">
              {busy === "validating" ? "Validating…" : "Validate"}
            </button>
            <button type="button" onClick={register} disabled={busy !== null || readOnly}>
              {busy === "registering" ? "Registering…" : "Register"}
            </button>
            {workflowId && versions.length ? (
              <div class="field inline">
                <label for="workflow-version">Version</label>
                <select
                  id="workflow-version"
                  value={shown ?? ""}
                  onChange={(e) => {
                    const v = (e.target as HTMLSelectElement).value;
                    load(v === latest ? null : v).then(() => announce(`Showing version ${v}`));
                  }}
                >
                  {versions.map((v) => (
                    <option key={v} value={v}>
                      {v}
                      {v === latest ? " (latest)" : ""}
                    </option>
                  ))}
                </select>
              </div>
            ) : null}
          </div>
          {readOnly ? (
            <p class="warn-note">
              Version {shown} is an older version and is shown read-only.{" "}
              <button type="button" class="link" onClick={() => setReadOnly(false)}>
                Edit it as a new version
              </button>
            </p>
          ) : null}
          <p class="help" id="editor-help">
            Ctrl+S (Cmd+S) validates. Register compiles and saves it: a changed workflow becomes a new version.
          </p>
          {initial === null ? (
            error ? null : (
              <Loading what="the workflow" />
            )
          ) : (
            <CodeEditor
              initial={initial}
              readOnly={readOnly}
              label="Workflow JSON"
              describedBy="editor-help"
              onReady={(handle) => {
                editor.current = handle;
                if (pendingReport.current) handle.mark(pendingReport.current.diagnostics);
              }}
              onChange={() => setChanged(true)}
              onCursor={(line, column) => setCursor({ line, column })}
            />
          )}
          <p class="cursor-position" id="cursor-position">
            Cursor: line {cursor.line}, column {cursor.column}
          </p>
        </section>
        <div class="compile-panels">
          <Section title="Ready to run" id="ready-to-run">
            {ready ? (
              <p class="ok-note">
                <strong>Ready to run</strong>: version {registered!.version} is registered and compiles.{" "}
                <Link href={`/workflows/${encodeURIComponent(registered!.id)}/run`}>Run {registered!.id}</Link>
              </p>
            ) : (
              <p class="warn-note">
                <strong>Not ready to run</strong>:{" "}
                {outcome && !valid
                  ? "fix the errors first."
                  : registered && changed
                    ? "the editor has changes that are not registered."
                    : "register the workflow first."}
              </p>
            )}
          </Section>
          {outcome ? (
            <CompileState outcome={outcome} onGoTo={goTo} />
          ) : (
            <Section title="Compilation" id="compilation">
              <p>Not validated yet: press Validate (or Ctrl+S).</p>
            </Section>
          )}
          {report?.levels ? <PlanLevels levels={report.levels} /> : null}
          {report?.input_schema ? <InputSchema schema={report.input_schema} /> : null}
        </div>
      </div>
    </>
  );
}
