// The console's only way to the runtime: /api/v1, with the session cookie and, for changes,
// the session's CSRF token. Errors keep the API's one shape: {error: {code, message, details}}.

export const API = "/api/v1";

export class ApiFailure extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
    public details: Record<string, unknown> = {},
  ) {
    super(message);
  }

  /** Field errors of a 422 (details.errors), by dotted field path. */
  fieldErrors(): Record<string, string> {
    const found: Record<string, string> = {};
    const errors = this.details.errors;
    if (Array.isArray(errors)) {
      for (const item of errors as Array<Record<string, unknown>>) {
        const where = item.path ?? item.field ?? item.loc;
        const key = Array.isArray(where) ? where.join(".") : String(where ?? "");
        found[key] = String(item.message ?? item.msg ?? "invalid");
      }
    }
    return found;
  }
}

let csrf: string | null = null;
let onSignedOut: () => void = () => {};

export function setCsrf(token: string | null): void {
  csrf = token;
}

export function whenSignedOut(handler: () => void): void {
  onSignedOut = handler;
}

async function failure(response: Response): Promise<ApiFailure> {
  try {
    const body = await response.json();
    const error = body?.error;
    if (error && typeof error.message === "string") {
      return new ApiFailure(response.status, error.code, error.message, error.details ?? {});
    }
  } catch {
    // not JSON: fall through
  }
  return new ApiFailure(response.status, "http_error", `${response.status} ${response.statusText}`);
}

export async function request<T>(method: string, path: string, body?: unknown, base = API): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrf) headers["X-CSRF-Token"] = csrf;
  let response: Response;
  try {
    response = await fetch(base + path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new ApiFailure(0, "unreachable", `the API cannot be reached (${String(error)})`);
  }
  if (!response.ok) {
    const error = await failure(response);
    if (response.status === 401 && base === API) onSignedOut();
    throw error;
  }
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

export const get = <T>(path: string) => request<T>("GET", path);
export const post = <T>(path: string, body: unknown = {}) => request<T>("POST", path, body);
export const put = <T>(path: string, body: unknown) => request<T>("PUT", path, body);
export const del = <T>(path: string, body?: unknown) => request<T>("DELETE", path, body);

/** A query string from the set values of ``params``. */
export function query(params: Record<string, string | number | boolean | null | undefined | string[]>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === null || value === undefined || value === "") continue;
    if (Array.isArray(value)) value.forEach((v) => search.append(key, v));
    else search.append(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

export interface HubEvent {
  id: number;
  execution_id: string;
  type: string;
  ts: string;
  node_id?: string | null;
  data: Record<string, unknown>;
}

export const TERMINAL_EVENTS = new Set(["execution_completed", "execution_failed", "execution_cancelled"]);

/**
 * Follow an SSE stream of the API. The browser's EventSource reconnects by itself after a
 * dropped connection and sends Last-Event-ID, so nothing is lost; the stream is closed here
 * at the terminal event (else the browser would reconnect to a finished stream forever).
 * Returns a function that stops following.
 */
export function follow(
  path: string,
  onItem: (item: any) => void,
  onState: (state: "open" | "reconnecting" | "ended") => void = () => {},
  isLast: (item: any) => boolean = (item) => TERMINAL_EVENTS.has(item?.type),
): () => void {
  const source = new EventSource(API + path, { withCredentials: true });
  source.onopen = () => onState("open");
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) onState("ended");
    else onState("reconnecting");
  };
  source.onmessage = (message) => {
    const item = JSON.parse(message.data);
    onItem(item);
    if (isLast(item)) {
      source.close();
      onState("ended");
    }
  };
  return () => source.close();
}
