// The runtime settings form: every setting, checked by POST /settings/validate before PUT
// /settings; errors at their fields; settings that wait for a restart marked; gates explained.
import { useEffect, useState } from "preact/hooks";
import { ApiFailure, post, put } from "../api";
import { announce, ErrorNote } from "../components/common";
import { ALL_FIELDS, type FieldSpec, fieldId, fromText, GROUPS, read, RESTART, toText, topName } from "./settings-fields";

export interface GateState {
  value: boolean;
  environment: boolean;
  source: "environment" | "settings";
  env_var: string;
}

export interface SettingsView {
  settings: Record<string, any>;
  restart_required: string[];
  gates: Record<string, GateState>;
}

type Values = Record<string, string | boolean>;

function valuesOf(settings: Record<string, any>): Values {
  return Object.fromEntries(ALL_FIELDS.map((spec) => [spec.path, toText(spec, read(settings, spec.path))]));
}

/** The settings the form changes, by top-level name; or field errors for text that is not JSON. */
function changesOf(values: Values, current: Record<string, any>): [Record<string, unknown>, Record<string, string>] {
  const next: Record<string, any> = JSON.parse(JSON.stringify(current));
  const errors: Record<string, string> = {};
  for (const spec of ALL_FIELDS) {
    let value: unknown;
    try {
      value = fromText(spec, values[spec.path]);
    } catch (error) {
      errors[spec.path] = (error as Error).message;
      continue;
    }
    const keys = spec.path.split("/").slice(1);
    let target = next;
    for (const key of keys.slice(0, -1)) target = target[key] ??= {};
    target[keys[keys.length - 1]] = value;
  }
  const changes: Record<string, unknown> = {};
  for (const name of Object.keys(next)) {
    if (JSON.stringify(next[name]) !== JSON.stringify(current[name])) changes[name] = next[name];
  }
  return [changes, errors];
}

export function RuntimeSettingsForm({ view, onSaved }: { view: SettingsView; onSaved: (v: SettingsView) => void }) {
  const [values, setValues] = useState<Values>(valuesOf(view.settings));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [failure, setFailure] = useState<unknown>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => setValues(valuesOf(view.settings)), [JSON.stringify(view.settings)]);

  const check = async (apply: boolean) => {
    setFailure(null);
    setSaved(null);
    const [changes, local] = changesOf(values, view.settings);
    setErrors(local);
    if (Object.keys(local).length) {
      announce("Some settings are not valid");
      return;
    }
    if (!Object.keys(changes).length) {
      setSaved("Nothing changed.");
      return;
    }
    setBusy(true);
    try {
      await post("/settings/validate", changes);
      if (!apply) {
        setSaved(`Valid: ${Object.keys(changes).join(", ")}.`);
        announce("The changes are valid");
        return;
      }
      const result = await put<SettingsView>("/settings", changes);
      const waiting = Object.keys(changes).filter((name) => result.restart_required.includes(name));
      const text =
        `Saved: ${Object.keys(changes).join(", ")}.` +
        (waiting.length ? ` ${waiting.join(", ")} take effect at the next start of the runtime.` : "");
      setSaved(text);
      announce(text);
      onSaved(result);
    } catch (error) {
      const fields = error instanceof ApiFailure ? error.fieldErrors() : {};
      if (error instanceof ApiFailure && error.code === "gate_locked") {
        for (const name of (error.details.settings as string[] | undefined) ?? []) fields["/" + name] = error.message;
      }
      setErrors(fields);
      setFailure(error);
      announce(error instanceof ApiFailure ? error.message : String(error));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form
      noValidate
      aria-labelledby="runtime-settings"
      onSubmit={(e) => {
        e.preventDefault();
        check(true);
      }}
    >
      <section class="panel">
        <h2 id="runtime-settings">Runtime settings</h2>
        <p class="help">
          Most settings apply at once; those marked <strong>restart needed</strong> apply at the next start of the
          runtime.
        </p>
        {GROUPS.map(([title, fields]) => (
          <fieldset key={title} class="settings-group">
            <legend>{title}</legend>
            {fields.map((spec) => (
              <SettingField
                key={spec.path}
                spec={spec}
                value={values[spec.path]}
                error={errors[spec.path]}
                pending={view.restart_required.includes(topName(spec.path))}
                gate={view.gates[topName(spec.path)]}
                onChange={(value) => setValues({ ...values, [spec.path]: value })}
              />
            ))}
          </fieldset>
        ))}
        <ErrorNote error={failure} title="The settings were not saved" />
        {saved && (
          <p class="ok-note" role="status">
            {saved}
          </p>
        )}
        <div class="toolbar">
          <button type="submit" disabled={busy}>
            Save settings
          </button>
          <button type="button" class="secondary" disabled={busy} onClick={() => check(false)}>
            Validate
          </button>
          <button
            type="button"
            class="secondary"
            onClick={() => {
              setValues(valuesOf(view.settings));
              setErrors({});
              setFailure(null);
              setSaved(null);
            }}
          >
            Discard changes
          </button>
        </div>
      </section>
    </form>
  );
}

interface FieldProps {
  spec: FieldSpec;
  value: string | boolean;
  error?: string;
  pending: boolean;
  gate?: GateState;
  onChange: (value: string | boolean) => void;
}

function SettingField({ spec, value, error, pending, gate, onChange }: FieldProps) {
  const id = fieldId(spec.path);
  const restart = RESTART.has(topName(spec.path));
  const notes: string[] = [];
  if (spec.help) notes.push(id + "-help");
  if (restart) notes.push(id + "-restart");
  if (gate) notes.push(id + "-gate");
  if (error) notes.push(id + "-error");
  const described = notes.join(" ") || undefined;
  const invalid = error ? "true" : undefined;
  const text = (e: Event) => onChange((e.target as HTMLInputElement).value);
  let control;
  if (spec.kind === "bool") {
    control = (
      <input
        id={id}
        type="checkbox"
        checked={Boolean(value)}
        aria-invalid={invalid}
        aria-describedby={described}
        onChange={(e) => onChange((e.target as HTMLInputElement).checked)}
      />
    );
  } else if (typeof spec.kind === "object") {
    control = (
      <select id={id} value={String(value)} aria-invalid={invalid} aria-describedby={described} onChange={text}>
        {spec.kind.choices.map((c) => (
          <option key={c} value={c}>
            {c}
          </option>
        ))}
      </select>
    );
  } else {
    control = (
      <input
        id={id}
        type="text"
        inputMode={spec.kind === "int" || spec.kind === "number" ? "decimal" : undefined}
        class={spec.kind === "json" || spec.kind === "list" ? "wide" : ""}
        value={String(value)}
        aria-invalid={invalid}
        aria-describedby={described}
        onInput={text}
      />
    );
  }
  return (
    <div class={`field setting${spec.kind === "bool" ? " setting-bool" : ""}`}>
      {spec.kind === "bool" ? (
        <label for={id} class="inline">
          {control} {spec.label}
        </label>
      ) : (
        <>
          <label for={id}>{spec.label}</label>
          {control}
        </>
      )}
      {restart && (
        <p class="setting-restart" id={id + "-restart"}>
          <span class="badge status-paused">Restart needed</span>
          {pending ? " changed: waits for the next start of the runtime" : " applies at the next start"}
        </p>
      )}
      {gate && (
        <p class="help" id={id + "-gate"}>
          Gate: the runtime's environment gave {gate.env_var}={gate.environment ? "on" : "off"}; these settings may
          close this gate but never open it wider. The current value comes from the {gate.source}.
        </p>
      )}
      {spec.help && (
        <p class="help" id={id + "-help"}>
          {spec.help}
        </p>
      )}
      {error && (
        <p class="field-error" id={id + "-error"} role="alert">
          {error}
        </p>
      )}
    </div>
  );
}
