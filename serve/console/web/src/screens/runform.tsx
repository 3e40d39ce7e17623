// The run-input form: generated from the workflow's input JSON Schema, checked in the browser
// before it is sent, the server's field errors shown at their fields, saved input
// configurations (never with secrets), and run options (timeout, debug with breakpoints).
import { useEffect, useState } from "preact/hooks";
import { Link, useLocation } from "wouter-preact";
import { ApiFailure, del, get, post, put, query } from "../api";
import { announce, ErrorNote, Loading, Section, useTitle } from "../components/common";
import { type Field, FieldControl, fieldsOf, initialValues, type Raw, rawOf, valueOf } from "./runform-fields";
import "./runform.css";

interface SavedInputs {
  id: string;
  name: string;
  inputs: Record<string, unknown>;
  created_at: string;
}

interface Breakpoint {
  node_id: string;
  condition: string;
}

const TIMEOUT_MAX_S = 31_536_000;

export function RunForm({ workflowId }: { workflowId: string }) {
  useTitle(`Run ${workflowId}`);
  const [, navigate] = useLocation();
  const base = `/workflows/${encodeURIComponent(workflowId)}`;
  const [versions, setVersions] = useState<string[]>([]);
  const [version, setVersion] = useState<string>("");
  const [fields, setFields] = useState<Field[] | null>(null);
  const [nodes, setNodes] = useState<string[]>([]);
  const [values, setValues] = useState<Record<string, Raw>>({});
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [loadError, setLoadError] = useState<unknown>(null);
  const [failure, setFailure] = useState<unknown>(null);
  const [timeout, setTimeoutS] = useState("");
  const [debug, setDebug] = useState(false);
  const [breakpoints, setBreakpoints] = useState<Breakpoint[]>([]);
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState<SavedInputs[]>([]);
  const [chosen, setChosen] = useState("");
  const [saveName, setSaveName] = useState("");
  const [savedNote, setSavedNote] = useState<string | null>(null);

  useEffect(() => {
    get<{ versions: string[] }>(`${base}/versions`).then((v) => setVersions(v.versions), setLoadError);
    reloadSaved();
  }, [workflowId]);

  useEffect(() => {
    setFields(null);
    setLoadError(null);
    const v = version || null;
    Promise.all([
      get<Record<string, any>>(`${base}/input-schema${query({ version: v })}`),
      get<{ compile: { levels?: string[][] | null } }>(`${base}${query({ version: v })}`),
    ]).then(([schema, workflow]) => {
      const found = fieldsOf(schema);
      setFields(found);
      setValues(initialValues(found));
      setErrors({});
      setNodes((workflow.compile.levels ?? []).flat());
    }, setLoadError);
  }, [workflowId, version]);

  const reloadSaved = () =>
    get<{ items: SavedInputs[] }>(`${base}/saved-inputs`).then(
      (list) => setSaved(list.items),
      (error) => setFailure(error),
    );

  const focusFirst = (found: Record<string, string>) => {
    const first =
      (fields ?? []).find((f) => found[f.name]) ?? (found["/options/timeout_s"] ? { id: "run-timeout" } : null);
    if (first) document.getElementById(first.id)?.focus();
  };

  /** The typed inputs, or null after showing each field's error. */
  const collect = (forSaving: boolean): Record<string, unknown> | null => {
    const found: Record<string, string> = {};
    const inputs: Record<string, unknown> = {};
    for (const field of fields ?? []) {
      if (forSaving && field.secret) continue; // secrets are never saved
      const { value, error } = valueOf(field, values[field.name] ?? "", !forSaving);
      if (error) found[field.name] = error;
      else if (value !== undefined) inputs[field.name] = value;
    }
    if (!forSaving && timeout.trim() !== "") {
      const seconds = Number(timeout);
      if (!Number.isFinite(seconds) || seconds <= 0 || seconds > TIMEOUT_MAX_S)
        found["/options/timeout_s"] = `Enter seconds above 0 and at most ${TIMEOUT_MAX_S}.`;
    }
    setErrors(found);
    if (Object.keys(found).length) {
      announce(`${Object.keys(found).length} field(s) need attention`);
      focusFirst(found);
      return null;
    }
    return inputs;
  };

  /** A 422's field errors at their fields; anything else in the error note. */
  const showFailure = (error: unknown) => {
    if (error instanceof ApiFailure && error.status === 422) {
      const found: Record<string, string> = {};
      let placed = false;
      for (const [path, message] of Object.entries(error.fieldErrors())) {
        const name = path.replace(/^\/inputs\//, "");
        if (path.startsWith("/inputs/") && fields?.some((f) => f.name === name)) {
          found[name] = message;
          placed = true;
        } else if (path === "/options/timeout_s") {
          found[path] = message;
          placed = true;
        }
      }
      setErrors(found);
      if (placed) {
        setFailure(null);
        announce("The server refused some inputs");
        focusFirst(found);
        return;
      }
    }
    setFailure(error);
  };

  const submit = async (event: Event) => {
    event.preventDefault();
    if (busy) return;
    setFailure(null);
    const inputs = collect(false);
    if (!inputs) return;
    const options: Record<string, unknown> = { debug };
    if (version) options.version = version;
    if (timeout.trim() !== "") options.timeout_s = Number(timeout);
    if (debug) {
      options.breakpoints = breakpoints
        .filter((b) => b.node_id)
        .map((b) => (b.condition.trim() ? { node_id: b.node_id, condition: b.condition.trim() } : b.node_id));
    }
    setBusy(true);
    try {
      const started = await post<{ execution_id: string }>(`${base}/runs`, { inputs, options });
      announce("Run started");
      navigate(`/executions/${started.execution_id}`);
    } catch (error) {
      showFailure(error);
    } finally {
      setBusy(false);
    }
  };

  const saveCurrent = async (existing: SavedInputs | null) => {
    setFailure(null);
    setSavedNote(null);
    const name = existing ? existing.name : saveName.trim();
    if (!name) {
      setErrors({ "/saved/name": "Give the saved inputs a name." });
      document.getElementById("saved-name")?.focus();
      return;
    }
    const inputs = collect(true);
    if (!inputs) return;
    try {
      const stored = existing
        ? await put<SavedInputs>(`${base}/saved-inputs/${existing.id}`, { name, inputs })
        : await post<SavedInputs>(`${base}/saved-inputs`, { name, inputs });
      await reloadSaved();
      setChosen(stored.id);
      setSaveName("");
      const note = `${existing ? "Updated" : "Saved"} “${name}” (secret inputs are not saved).`;
      setSavedNote(note);
      announce(note);
    } catch (error) {
      showFailure(error);
    }
  };

  const loadSaved = () => {
    const item = saved.find((s) => s.id === chosen);
    if (!item || !fields) return;
    const next: Record<string, Raw> = {};
    for (const field of fields) {
      // Secrets are never in saved inputs: what is typed in them stays.
      if (field.secret) next[field.name] = values[field.name] ?? "";
      else next[field.name] = rawOf(field, field.name in item.inputs ? item.inputs[field.name] : field.prop.default);
    }
    setValues(next);
    setErrors({});
    const note = `Loaded “${item.name}”.`;
    setSavedNote(note);
    announce(note);
  };

  const deleteSaved = async () => {
    const item = saved.find((s) => s.id === chosen);
    if (!item) return;
    setFailure(null);
    try {
      await del(`${base}/saved-inputs/${item.id}`);
      setChosen("");
      await reloadSaved();
      const note = `Deleted “${item.name}”.`;
      setSavedNote(note);
      announce(note);
    } catch (error) {
      setFailure(error);
    }
  };

  const errorCount = Object.keys(errors).length;
  const current = saved.find((s) => s.id === chosen) ?? null;
  return (
    <>
      <h1>Run {workflowId}</h1>
      <p>
        <Link href={base}>Workflow {workflowId}</Link>
      </p>
      <ErrorNote error={loadError} title="The workflow's inputs could not be loaded." />
      <ErrorNote error={failure} title="The request failed." />
      {fields === null && !loadError ? <Loading what="the input form" /> : null}
      {fields ? (
        <div class="row run-page">
          <form class="panel run-form" onSubmit={submit} noValidate aria-labelledby="inputs-heading">
            <h2 id="inputs-heading">Inputs</h2>
            {errorCount ? (
              <p class="error-note" role="alert">
                {errorCount === 1 ? "One field needs" : `${errorCount} fields need`} attention: see the message at
                each field.
              </p>
            ) : null}
            {fields.length ? (
              <p class="help">
                Fields marked <span aria-hidden="true">*</span> (required) must be filled.
              </p>
            ) : (
              <p>This workflow takes no inputs.</p>
            )}
            {fields.map((field) => (
              <FieldControl
                key={field.name}
                field={field}
                raw={values[field.name] ?? ""}
                error={errors[field.name]}
                onInput={(raw) => setValues((old) => ({ ...old, [field.name]: raw }))}
              />
            ))}
            <fieldset>
              <legend>Run options</legend>
              {versions.length > 1 ? (
                <div class="field">
                  <label for="run-version">Version</label>
                  <select id="run-version" value={version} onChange={(e) => setVersion((e.target as HTMLSelectElement).value)}>
                    <option value="">Latest ({versions[versions.length - 1]})</option>
                    {versions.map((v) => (
                      <option key={v} value={v}>
                        {v}
                      </option>
                    ))}
                  </select>
                </div>
              ) : null}
              <div class="field">
                <label for="run-timeout">Timeout in seconds (optional)</label>
                <input
                  id="run-timeout"
                  type="text"
                  inputMode="decimal"
                  value={timeout}
                  onInput={(e) => setTimeoutS((e.target as HTMLInputElement).value)}
                  aria-invalid={errors["/options/timeout_s"] ? "true" : undefined}
                  aria-describedby={errors["/options/timeout_s"] ? "run-timeout-error" : "run-timeout-help"}
                />
                <p class="help" id="run-timeout-help">
                  Bounds the whole run; empty uses the workflow's or the runtime's setting.
                </p>
                {errors["/options/timeout_s"] ? (
                  <p class="field-error" id="run-timeout-error">
                    {errors["/options/timeout_s"]}
                  </p>
                ) : null}
              </div>
              <div class="field checkbox">
                <input
                  id="run-debug"
                  type="checkbox"
                  checked={debug}
                  onChange={(e) => setDebug((e.target as HTMLInputElement).checked)}
                />
                <label for="run-debug">Debug: pause at breakpoints</label>
              </div>
              {debug ? (
                <Breakpoints nodes={nodes} breakpoints={breakpoints} onChange={setBreakpoints} />
              ) : null}
            </fieldset>
            <button type="submit" disabled={busy}>
              {busy ? "Starting…" : "Start run"}
            </button>
          </form>
          <Section title="Saved inputs" id="saved-inputs">
            {savedNote ? (
              <p class="ok-note">
                {savedNote}
              </p>
            ) : null}
            <p class="help">Secret inputs are never saved: type them for each run.</p>
            {saved.length ? (
              <div class="toolbar">
                <div class="field">
                  <label for="saved-choice">Saved configuration</label>
                  <select id="saved-choice" value={chosen} onChange={(e) => setChosen((e.target as HTMLSelectElement).value)}>
                    <option value="">(choose one)</option>
                    {saved.map((s) => (
                      <option key={s.id} value={s.id}>
                        {s.name}
                      </option>
                    ))}
                  </select>
                </div>
                <button type="button" class="secondary" onClick={loadSaved} disabled={!current}>
                  Load
                </button>
                <button type="button" class="secondary" onClick={() => current && saveCurrent(current)} disabled={!current}>
                  Update with current inputs
                </button>
                <button type="button" class="danger" onClick={deleteSaved} disabled={!current}>
                  Delete
                </button>
              </div>
            ) : (
              <p>No saved inputs for this workflow yet.</p>
            )}
            <div class="toolbar">
              <div class="field">
                <label for="saved-name">Name for the current inputs</label>
                <input
                  id="saved-name"
                  type="text"
                  value={saveName}
                  maxLength={255}
                  onInput={(e) => setSaveName((e.target as HTMLInputElement).value)}
                  aria-invalid={errors["/saved/name"] ? "true" : undefined}
                  aria-describedby={errors["/saved/name"] ? "saved-name-error" : undefined}
                />
                {errors["/saved/name"] ? (
                  <p class="field-error" id="saved-name-error">
                    {errors["/saved/name"]}
                  </p>
                ) : null}
              </div>
              <button type="button" onClick={() => saveCurrent(null)}>
                Save current inputs
              </button>
            </div>
          </Section>
        </div>
      ) : null}
    </>
  );
}

function Breakpoints({
  nodes,
  breakpoints,
  onChange,
}: {
  nodes: string[];
  breakpoints: Breakpoint[];
  onChange: (next: Breakpoint[]) => void;
}) {
  const update = (i: number, change: Partial<Breakpoint>) =>
    onChange(breakpoints.map((b, j) => (j === i ? { ...b, ...change } : b)));
  return (
    <fieldset class="breakpoints">
      <legend>Breakpoints</legend>
      <p class="help">The run pauses before each of these steps (when its condition, if any, is true).</p>
      {breakpoints.map((b, i) => (
        <div class="toolbar" key={i}>
          <div class="field">
            <label for={`bp-node-${i}`}>Step {i + 1}</label>
            <select id={`bp-node-${i}`} value={b.node_id} onChange={(e) => update(i, { node_id: (e.target as HTMLSelectElement).value })}>
              <option value="">(choose a step)</option>
              {nodes.map((n) => (
                <option key={n} value={n}>
                  {n}
                </option>
              ))}
            </select>
          </div>
          <div class="field">
            <label for={`bp-condition-${i}`}>Condition {i + 1} (optional)</label>
            <input
              id={`bp-condition-${i}`}
              type="text"
              placeholder="$input.age > 30"
              value={b.condition}
              onInput={(e) => update(i, { condition: (e.target as HTMLInputElement).value })}
            />
          </div>
          <button type="button" class="secondary" onClick={() => onChange(breakpoints.filter((_, j) => j !== i))}>
            Remove breakpoint {i + 1}
          </button>
        </div>
      ))}
      <button type="button" class="secondary" onClick={() => onChange([...breakpoints, { node_id: "", condition: "" }])}>
        Add breakpoint
      </button>
    </fieldset>
  );
}
