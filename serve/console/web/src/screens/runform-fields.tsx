// The run form's fields, generated from the workflow's input JSON Schema: one control per input
// (enum as a select, boolean as a checkbox or a three-way select, array/object as JSON text,
// secrets as password inputs), and the checks the browser can make before the server does.

export type Prop = Record<string, any>;
export type Raw = string | boolean;

export interface Field {
  name: string;
  prop: Prop;
  required: boolean;
  secret: boolean;
  id: string;
}

export function fieldsOf(schema: Prop): Field[] {
  const properties: Record<string, Prop> = schema.properties ?? {};
  const required = new Set<string>(schema.required ?? []);
  return Object.keys(properties).map((name, i) => ({
    name,
    prop: properties[name],
    required: required.has(name),
    secret: properties[name].writeOnly === true || properties[name].format === "password",
    id: `input-${i}`,
  }));
}

function isTriState(field: Field): boolean {
  return field.prop.type === "boolean" && !field.required && field.prop.default === undefined;
}

/** The form's text for a value (a default or a saved value). */
export function rawOf(field: Field, value: unknown): Raw {
  if (value === undefined || value === null) return field.prop.type === "boolean" && !isTriState(field) ? false : "";
  if (field.prop.enum) return JSON.stringify(value);
  switch (field.prop.type) {
    case "boolean":
      return isTriState(field) ? String(value) : Boolean(value);
    case "array":
    case "object":
      return JSON.stringify(value, null, 2);
    default:
      return String(value);
  }
}

export function initialValues(fields: Field[]): Record<string, Raw> {
  return Object.fromEntries(fields.map((f) => [f.name, rawOf(f, f.prop.default)]));
}

/** The typed value of a field, or an error to show at it; ``undefined`` value: not given. */
export function valueOf(field: Field, raw: Raw, requireRequired = true): { value?: unknown; error?: string } {
  const prop = field.prop;
  if (typeof raw === "boolean") return { value: raw };
  if (raw === "") {
    return field.required && requireRequired ? { error: "This input is required." } : {};
  }
  let value: unknown;
  if (prop.enum) {
    value = JSON.parse(raw);
  } else if (prop.type === "boolean") {
    value = raw === "true";
  } else if (prop.type === "number" || prop.type === "integer") {
    value = Number(raw.trim());
    if (raw.trim() === "" || !Number.isFinite(value)) return { error: "Enter a number." };
    if (prop.type === "integer" && !Number.isInteger(value)) return { error: "Enter a whole number." };
  } else if (prop.type === "array" || prop.type === "object") {
    try {
      value = JSON.parse(raw);
    } catch (failure) {
      return { error: `Not valid JSON: ${failure instanceof Error ? failure.message : String(failure)}` };
    }
    const isArray = Array.isArray(value);
    const isObject = value !== null && typeof value === "object" && !isArray;
    if (prop.type === "array" && !isArray) return { error: "Enter a JSON array, such as [1, 2]." };
    if (prop.type === "object" && !isObject) return { error: 'Enter a JSON object, such as {"key": "value"}.' };
  } else {
    value = raw;
  }
  const problem = check(prop, value, field.secret);
  return problem ? { error: problem } : { value };
}

function check(prop: Prop, value: unknown, secret: boolean): string | null {
  if (typeof value === "number") {
    if (prop.minimum !== undefined && value < prop.minimum) return `Must be at least ${prop.minimum}.`;
    if (prop.maximum !== undefined && value > prop.maximum) return `Must be at most ${prop.maximum}.`;
  }
  if (typeof value === "string") {
    const length = [...value].length;
    if (prop.minLength !== undefined && length < prop.minLength)
      return `Must be at least ${prop.minLength} characters long.`;
    if (prop.maxLength !== undefined && length > prop.maxLength)
      return `Must be at most ${prop.maxLength} characters long.`;
    if (prop.pattern !== undefined) {
      let pattern: RegExp | null = null;
      try {
        pattern = new RegExp(prop.pattern, "u");
      } catch {
        pattern = null; // a pattern JavaScript cannot read: the server checks it
      }
      if (pattern && !pattern.test(value))
        return secret ? "Does not match the required pattern." : `Must match the pattern ${prop.pattern}.`;
    }
  }
  return null;
}

export function FieldControl({
  field,
  raw,
  error,
  onInput,
}: {
  field: Field;
  raw: Raw;
  error?: string;
  onInput: (raw: Raw) => void;
}) {
  const { prop, id } = field;
  const help = prop.description ? `${id}-help` : null;
  const errorId = error ? `${id}-error` : null;
  const describedBy = [help, errorId, field.secret ? `${id}-secret` : null].filter(Boolean).join(" ") || undefined;
  const common = {
    id,
    name: field.name,
    "aria-invalid": error ? ("true" as const) : undefined,
    "aria-describedby": describedBy,
    "aria-required": field.required ? ("true" as const) : undefined,
  };
  const text = (e: Event) => onInput((e.target as HTMLInputElement).value);
  let control;
  if (prop.enum) {
    control = (
      <select {...common} value={raw as string} onChange={text}>
        {prop.default !== undefined ? null : <option value="">(not set)</option>}
        {prop.enum.map((option: unknown) => (
          <option key={JSON.stringify(option)} value={JSON.stringify(option)}>
            {typeof option === "string" ? option : JSON.stringify(option)}
          </option>
        ))}
      </select>
    );
  } else if (prop.type === "boolean" && isTriState(field)) {
    control = (
      <select {...common} value={raw as string} onChange={text}>
        <option value="">(not set)</option>
        <option value="true">true</option>
        <option value="false">false</option>
      </select>
    );
  } else if (prop.type === "boolean") {
    control = (
      <input {...common} type="checkbox" checked={raw === true} onChange={(e) => onInput((e.target as HTMLInputElement).checked)} />
    );
  } else if (prop.type === "array" || prop.type === "object") {
    control = <textarea {...common} rows={4} spellcheck={false} value={raw as string} onInput={text} />;
  } else if (field.secret) {
    control = <input {...common} type="password" autocomplete="new-password" value={raw as string} onInput={text} />;
  } else if (prop.type === "number" || prop.type === "integer") {
    control = (
      <input {...common} type="text" inputMode={prop.type === "integer" ? "numeric" : "decimal"} value={raw as string} onInput={text} />
    );
  } else {
    control = <input {...common} type="text" value={raw as string} onInput={text} />;
  }
  const hints = [
    prop.type,
    field.secret ? "secret" : null,
    prop.minimum !== undefined ? `at least ${prop.minimum}` : null,
    prop.maximum !== undefined ? `at most ${prop.maximum}` : null,
    prop.minLength !== undefined ? `at least ${prop.minLength} characters` : null,
    prop.maxLength !== undefined ? `at most ${prop.maxLength} characters` : null,
    prop.pattern !== undefined && !field.secret ? `pattern ${prop.pattern}` : null,
    prop.type === "array" || prop.type === "object" ? "as JSON" : null,
  ].filter(Boolean);
  return (
    <div class={`field${prop.type === "boolean" && !isTriState(field) ? " checkbox" : ""}`}>
      <label for={id}>
        <code>{field.name}</code>
        {field.required ? (
          <>
            {" "}
            <span class="required" aria-hidden="true">
              *
            </span>
            <span class="sr-only">(required)</span>
          </>
        ) : null}{" "}
        <span class="field-type">({hints.join(", ")})</span>
      </label>
      {control}
      {prop.description ? (
        <p class="help" id={help!}>
          {prop.description}
        </p>
      ) : null}
      {field.secret ? (
        <p class="help" id={`${id}-secret`}>
          Secret: sent with the run only, never saved or shown again.
        </p>
      ) : null}
      {error ? (
        <p class="field-error" id={errorId!}>
          {error}
        </p>
      ) : null}
    </div>
  );
}
