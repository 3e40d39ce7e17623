// What compiling says, shown: the state (success, warnings, errors, or JSON that does not parse),
// each diagnostic as a button that moves the editor's cursor to its place, the plan's levels and
// the input schema.
import { Json, Section } from "../components/common";
import type { Diagnostic } from "./workflows-code";

export interface CompileReport {
  valid: boolean;
  diagnostics: Diagnostic[];
  levels?: string[][] | null;
  input_schema?: Record<string, any> | null;
  plan?: Record<string, any> | null;
}

/** The outcome shown: a compile report, or JSON that does not parse (with where). */
export type Outcome =
  | { kind: "report"; report: CompileReport }
  | { kind: "unparsable"; message: string; line: number; column: number; at: number };

export function stateOf(outcome: Outcome): "errors" | "warnings" | "success" {
  if (outcome.kind === "unparsable" || !outcome.report.valid) return "errors";
  return outcome.report.diagnostics.some((d) => d.severity === "warning") ? "warnings" : "success";
}

export function summary(outcome: Outcome): string {
  if (outcome.kind === "unparsable") {
    return `Not valid JSON at line ${outcome.line}, column ${outcome.column}: ${outcome.message}`;
  }
  const errors = outcome.report.diagnostics.filter((d) => d.severity === "error").length;
  const warnings = outcome.report.diagnostics.length - errors;
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
  if (!outcome.report.valid) {
    return `Does not compile: ${plural(errors, "error")}` + (warnings ? `, ${plural(warnings, "warning")}` : "");
  }
  return warnings ? `Compiles with ${plural(warnings, "warning")}` : "Compiles without problems";
}

export function CompileState({ outcome, onGoTo }: { outcome: Outcome; onGoTo: (path: string) => void }) {
  const state = stateOf(outcome);
  const note = state === "errors" ? "error-note" : state === "warnings" ? "warn-note" : "ok-note";
  return (
    <Section title="Compilation" id="compilation">
      <p class={note} id="compile-summary">
        <strong>{state === "errors" ? "Errors" : state === "warnings" ? "Success with warnings" : "Success"}</strong>
        {": "}
        {summary(outcome)}
      </p>
      {outcome.kind === "unparsable" ? (
        <button type="button" class="secondary" onClick={() => onGoTo(`@${outcome.at}`)}>
          Go to line {outcome.line}, column {outcome.column}
        </button>
      ) : (
        <Diagnostics diagnostics={outcome.report.diagnostics} onGoTo={onGoTo} />
      )}
    </Section>
  );
}

function Diagnostics({ diagnostics, onGoTo }: { diagnostics: Diagnostic[]; onGoTo: (path: string) => void }) {
  if (!diagnostics.length) return null;
  return (
    <>
      <p class="help">Choose a diagnostic to move the editor's cursor to its place.</p>
      <ul class="diagnostics" aria-label="Diagnostics">
        {diagnostics.map((d, i) => (
          <li key={i}>
            <button
              type="button"
              class={`diagnostic severity-${d.severity}`}
              onClick={() => onGoTo(d.path)}
            >
              <span class={`badge severity-${d.severity}`}>{d.severity === "error" ? "Error" : "Warning"}</span>{" "}
              <code class="diagnostic-code">{d.code}</code>{" "}
              <code class="diagnostic-path">{d.path || "/"}</code>
              <span class="diagnostic-message">{d.message}</span>
              {d.suggestion ? <span class="diagnostic-suggestion">Suggestion: {d.suggestion}</span> : null}
            </button>
          </li>
        ))}
      </ul>
    </>
  );
}

export function PlanLevels({ levels }: { levels: string[][] }) {
  return (
    <Section title="Compiled plan" id="plan-levels">
      <p class="help">Steps of one level run concurrently; each level starts when the one before it is done.</p>
      <ol class="levels">
        {levels.map((level, i) => (
          <li key={i}>
            <span class="level-name">Level {i + 1}:</span>{" "}
            {level.map((node) => (
              <code key={node} class="level-node">
                {node}
              </code>
            ))}
          </li>
        ))}
      </ol>
    </Section>
  );
}

function constraints(prop: Record<string, any>): string {
  const parts: string[] = [];
  if (prop.enum) parts.push(`one of ${prop.enum.map((v: unknown) => JSON.stringify(v)).join(", ")}`);
  for (const key of ["minimum", "maximum", "minLength", "maxLength", "pattern"]) {
    if (prop[key] !== undefined) parts.push(`${key} ${JSON.stringify(prop[key])}`);
  }
  if (prop.writeOnly) parts.push("secret");
  return parts.join("; ") || "–";
}

export function InputSchema({ schema }: { schema: Record<string, any> }) {
  const properties: Record<string, Record<string, any>> = schema.properties ?? {};
  const required = new Set<string>(schema.required ?? []);
  const names = Object.keys(properties);
  return (
    <Section title="Input schema" id="input-schema">
      {names.length ? (
        <table>
          <caption class="sr-only">Inputs the workflow takes</caption>
          <thead>
            <tr>
              <th scope="col">Input</th>
              <th scope="col">Type</th>
              <th scope="col">Required</th>
              <th scope="col">Default</th>
              <th scope="col">Constraints</th>
            </tr>
          </thead>
          <tbody>
            {names.map((name) => (
              <tr key={name}>
                <th scope="row">
                  <code>{name}</code>
                </th>
                <td>{properties[name].type}</td>
                <td>{required.has(name) ? "yes" : "no"}</td>
                <td>{properties[name].default === undefined ? "–" : JSON.stringify(properties[name].default)}</td>
                <td>{constraints(properties[name])}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p>The workflow takes no inputs.</p>
      )}
      <details>
        <summary>As JSON Schema</summary>
        <Json value={schema} label="Input JSON Schema" />
      </details>
    </Section>
  );
}
