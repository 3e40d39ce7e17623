// The runtime settings (hub.settings.RuntimeSettings) as form fields: how each is edited, and
// how a field's text becomes the JSON value the API takes. The API checks every value
// (POST /settings/validate); these kinds only pick the control and the parsing.

export type Kind = "int" | "number" | "bool" | "text" | "list" | "json" | { choices: string[] };

export interface FieldSpec {
  path: string; // the API's error path: "/max_concurrent_executions", "/circuit_breaker/window_s"
  label: string;
  kind: Kind;
  nullable?: boolean;
  help?: string;
}

// Settings a running runtime cannot change (hub.settings.RESTART_SETTINGS): they size pools and
// processes made at start. GET /settings says which changed ones wait for it (restart_required).
export const RESTART = new Set([
  "warm_execution_actors",
  "max_execution_actors",
  "journal_flush_ms",
  "step_writes",
  "ocr_placement",
  "node_pool_resources",
  "amqp_control",
  "amqp_control_queue",
  "amqp_control_url_credential",
]);

export const GROUPS: Array<[string, FieldSpec[]]> = [
  [
    "Execution",
    [
      { path: "/max_concurrent_executions", label: "Max concurrent executions", kind: "int" },
      { path: "/warm_execution_actors", label: "Warm execution actors", kind: "int" },
      { path: "/max_execution_actors", label: "Max execution actors", kind: "int" },
      { path: "/default_timeout_s", label: "Default timeout (s)", kind: "number", nullable: true, help: "Empty: no timeout." },
      { path: "/default_max_attempts", label: "Default max attempts", kind: "int" },
      { path: "/fail_fast", label: "Fail fast (halt on the first failure)", kind: "bool" },
      { path: "/log_level", label: "Lowest log level recorded", kind: { choices: ["debug", "info", "warn", "error"] } },
      { path: "/journal_flush_ms", label: "Journal flush (ms)", kind: "number" },
      { path: "/recovery", label: "Unfinished runs after a restart", kind: { choices: ["resume", "fail"] } },
      { path: "/step_commit", label: "Commit results per", kind: { choices: ["step", "execution"] } },
      {
        path: "/step_writes",
        label: "Step results written by",
        kind: { choices: ["direct", "recorder"] },
        help: "direct: each execution actor writes its steps to the store itself when it can reach it.",
      },
      {
        path: "/park_delay_s",
        label: "Park executions in delays of at least (s)",
        kind: "number",
        nullable: true,
        help: "Their execution actor is released until the delay is due. Empty: never park.",
      },
      {
        path: "/default_isolation",
        label: "Isolation of workflows that do not choose",
        kind: { choices: ["exclusive", "shared", "auto"] },
        help: "exclusive: an execution actor each; shared: many executions on few actors; auto: workflows of control nodes only run in the supervisor, the others exclusive.",
      },
      {
        path: "/supervisor_runs",
        label: "Let auto workflows run in the supervisor",
        kind: "bool",
        help: "A gate: off, auto workflows run exclusive. Only HUB_SUPERVISOR_RUNS opens it.",
      },
      { path: "/shared_execution_actors", label: "Shared execution actors (at most)", kind: "int" },
      { path: "/shared_max_executions", label: "Shared executions at once", kind: "int" },
      { path: "/max_workflow_depth", label: "Sub-workflow depth (at most)", kind: "int" },
    ],
  ],
  [
    "Node families and desktop",
    [
      { path: "/enable_code_nodes", label: "Enable code nodes", kind: "bool" },
      { path: "/enable_shell_nodes", label: "Enable shell nodes", kind: "bool" },
      { path: "/enable_desktop", label: "Enable desktop control", kind: "bool" },
      { path: "/desktop_dry_run", label: "Desktop dry run", kind: "bool" },
      { path: "/desktop_max_clicks_per_s", label: "Desktop max clicks per second", kind: "number" },
      { path: "/ocr_placement", label: "OCR placement", kind: { choices: ["auto", "local", "pool"] } },
      {
        path: "/node_pool_resources",
        label: "Node pool resources (JSON)",
        kind: "json",
        help: 'Ray resources per node type\'s pool, e.g. {"http": {"egress": 0.01}}.',
      },
      {
        path: "/env_allowlist",
        label: "Environment variables workflows may read",
        kind: "list",
        help: "Comma-separated names ($env.NAME).",
      },
    ],
  ],
  [
    "Retention",
    [
      { path: "/retention_days", label: "Keep executions for (days)", kind: "number", nullable: true, help: "Empty: no age limit." },
      { path: "/retention_max_executions", label: "Keep at most (executions)", kind: "int", nullable: true, help: "Empty: no count limit." },
      { path: "/retention_interval_s", label: "Prune every (s)", kind: "number" },
    ],
  ],
  [
    "AI (llm nodes)",
    [
      { path: "/ai/default_model", label: "Default model", kind: "text", nullable: true, help: "Empty: each llm node names its model." },
      { path: "/ai/temperature", label: "Temperature", kind: "number", nullable: true, help: "Empty: the provider's default." },
      { path: "/ai/max_tokens", label: "Max tokens", kind: "int", nullable: true, help: "Empty: the provider's default." },
      { path: "/ai/request_timeout_s", label: "Request timeout (s)", kind: "number" },
      { path: "/ai/max_retries", label: "Retries of a request", kind: "int" },
      { path: "/ai/rate_limit_strategy", label: "On a rate limit (429)", kind: { choices: ["backoff", "fail"] } },
    ],
  ],
  [
    "Circuit breakers",
    [
      { path: "/circuit_breaker/enabled", label: "Circuit breakers on", kind: "bool" },
      { path: "/circuit_breaker/failure_threshold", label: "Failures that open a breaker", kind: "int" },
      { path: "/circuit_breaker/window_s", label: "Failure window (s)", kind: "number" },
      { path: "/circuit_breaker/reset_timeout_s", label: "Open breaker waits (s)", kind: "number" },
      { path: "/circuit_breaker/half_open_max_calls", label: "Probe calls when half-open", kind: "int" },
    ],
  ],
  [
    "AMQP control queue",
    [
      { path: "/amqp_control", label: "Consume the AMQP control queue", kind: "bool" },
      { path: "/amqp_control_queue", label: "Control queue", kind: "text" },
      { path: "/amqp_control_url_credential", label: "Broker URL credential", kind: "text", nullable: true },
    ],
  ],
];

export const ALL_FIELDS = GROUPS.flatMap(([, fields]) => fields);

export function fieldId(path: string): string {
  return "setting-" + path.slice(1).replace(/\//g, "-");
}

/** The top-level setting a path belongs to ("circuit_breaker" for its sub-fields). */
export function topName(path: string): string {
  return path.split("/")[1];
}

export function read(settings: Record<string, any>, path: string): unknown {
  return path
    .split("/")
    .slice(1)
    .reduce<any>((value, key) => (value === null || value === undefined ? undefined : value[key]), settings);
}

/** A setting's value as its control shows it. */
export function toText(spec: FieldSpec, value: unknown): string | boolean {
  if (spec.kind === "bool") return Boolean(value);
  if (value === null || value === undefined) return "";
  if (spec.kind === "list") return (value as string[]).join(", ");
  if (spec.kind === "json") return JSON.stringify(value);
  return String(value);
}

/** A control's value as the API's JSON; throws a message for text that is not JSON. */
export function fromText(spec: FieldSpec, text: string | boolean): unknown {
  if (spec.kind === "bool") return Boolean(text);
  const raw = String(text).trim();
  if (raw === "" && spec.nullable) return null;
  if (spec.kind === "int" || spec.kind === "number") {
    const n = Number(raw);
    return raw === "" || Number.isNaN(n) ? raw : n; // the API names what is wrong with the text
  }
  if (spec.kind === "list") return raw ? raw.split(",").map((s) => s.trim()).filter(Boolean) : [];
  if (spec.kind === "json") {
    try {
      return JSON.parse(raw || "{}");
    } catch (error) {
      throw new Error(`not JSON: ${(error as Error).message}`);
    }
  }
  return String(text);
}
