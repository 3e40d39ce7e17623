// Per-workflow overrides: settings of one workflow that win over its document's own, for runs
// started later (GET/PUT/DELETE /workflows/{id}/settings).
import { useEffect, useState } from "preact/hooks";
import { ApiFailure, del, get, put } from "../api";
import { announce, ErrorNote, Section, useLoad } from "../components/common";

interface Overrides {
  timeout_s: number | null;
  on_error: string | null;
  max_parallel_steps: number | null;
  max_attempts: number | null;
  log_level: string | null;
}

const FIELDS: Array<{ name: keyof Overrides; label: string; choices?: string[] }> = [
  { name: "timeout_s", label: "Timeout (s)" },
  { name: "on_error", label: "On error", choices: ["halt", "ignore", "branch"] },
  { name: "max_parallel_steps", label: "Max parallel steps" },
  { name: "max_attempts", label: "Max attempts" },
  { name: "log_level", label: "Log level", choices: ["debug", "info", "warn", "error"] },
];

type Texts = Record<keyof Overrides, string>;

const texts = (o: Overrides | undefined): Texts =>
  Object.fromEntries(FIELDS.map(({ name }) => [name, o?.[name] === null || o?.[name] === undefined ? "" : String(o[name])])) as Texts;

export function WorkflowOverrides() {
  const [workflows] = useLoad(() => get<{ items: Array<{ id: string; name?: string }> }>("/workflows"), []);
  const [workflow, setWorkflow] = useState("");
  const [current, setCurrent] = useState<Overrides | undefined>(undefined);
  const [values, setValues] = useState<Texts>(texts(undefined));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [failure, setFailure] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);

  useEffect(() => {
    setCurrent(undefined);
    setErrors({});
    setFailure(null);
    setNotice(null);
    if (!workflow) return;
    get<Overrides>(`/workflows/${encodeURIComponent(workflow)}/settings`).then(
      (found) => {
        setCurrent(found);
        setValues(texts(found));
      },
      setFailure,
    );
  }, [workflow]);

  const body = (): Record<string, unknown> =>
    Object.fromEntries(
      FIELDS.map(({ name, choices }) => {
        const raw = values[name].trim();
        if (!raw) return [name, null];
        return [name, choices ? raw : Number.isNaN(Number(raw)) ? raw : Number(raw)];
      }),
    );

  const done = (found: Overrides, text: string) => {
    setCurrent(found);
    setValues(texts(found));
    setErrors({});
    setNotice(text);
    announce(text);
  };

  const save = async (event: Event) => {
    event.preventDefault();
    setFailure(null);
    setNotice(null);
    try {
      done(await put<Overrides>(`/workflows/${encodeURIComponent(workflow)}/settings`, body()), `Overrides of ${workflow} saved.`);
    } catch (error) {
      setErrors(error instanceof ApiFailure ? error.fieldErrors() : {});
      setFailure(error);
    }
  };
  const clear = async () => {
    setFailure(null);
    try {
      done(await del<Overrides>(`/workflows/${encodeURIComponent(workflow)}/settings`), `Overrides of ${workflow} cleared.`);
    } catch (error) {
      setFailure(error);
    }
  };

  return (
    <Section title="Per-workflow overrides">
      <p class="help">Settings of one workflow that win over its document's own, for runs started from now on.</p>
      <div class="field">
        <label for="override-workflow">Workflow</label>
        <select id="override-workflow" value={workflow} onChange={(e) => setWorkflow((e.target as HTMLSelectElement).value)}>
          <option value="">Choose a workflow</option>
          {workflows?.items.map((w) => (
            <option key={w.id} value={w.id}>
              {w.id}
            </option>
          ))}
        </select>
      </div>
      {workflow && current && (
        <form onSubmit={save} noValidate aria-label={`Overrides of ${workflow}`}>
          <div class="history-fields">
            {FIELDS.map(({ name, label, choices }) => {
              const id = `override-${name}`;
              const error = errors[`/${name}`];
              const props = {
                id,
                value: values[name],
                "aria-invalid": error ? ("true" as const) : undefined,
                "aria-describedby": error ? `${id}-error` : undefined,
              };
              const change = (e: Event) => setValues({ ...values, [name]: (e.target as HTMLInputElement).value });
              return (
                <div class="field" key={name}>
                  <label for={id}>{label}</label>
                  {choices ? (
                    <select {...props} onChange={change}>
                      <option value="">(the document's)</option>
                      {choices.map((c) => (
                        <option key={c} value={c}>
                          {c}
                        </option>
                      ))}
                    </select>
                  ) : (
                    <input {...props} inputMode="decimal" placeholder="the document's" onInput={change} />
                  )}
                  {error && (
                    <p class="field-error" id={`${id}-error`} role="alert">
                      {error}
                    </p>
                  )}
                </div>
              );
            })}
          </div>
          <div class="toolbar">
            <button type="submit">Save overrides</button>
            <button type="button" class="secondary" onClick={clear}>
              Clear overrides
            </button>
          </div>
        </form>
      )}
      <ErrorNote error={failure} title="The overrides were not changed" />
      {notice && (
        <p class="ok-note" role="status">
          {notice}
        </p>
      )}
    </Section>
  );
}
