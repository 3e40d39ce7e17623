// The History screen's filters as they live in the page's address (so a filtered view can be
// bookmarked and the back button works) and as GET /executions and its siblings take them.

export const STATUSES = ["queued", "running", "paused", "completed", "failed", "cancelled"] as const;

export const SORTS: Array<[string, string]> = [
  ["-created_at", "Newest first"],
  ["created_at", "Oldest first"],
  ["-ended_at", "Ended, latest first"],
  ["ended_at", "Ended, earliest first"],
  ["-duration_ms", "Longest first"],
  ["duration_ms", "Shortest first"],
];

export const PAGE_SIZES = [25, 50, 100, 200];

export interface Filters {
  status: string[];
  workflow_id: string;
  trigger: string;
  created_after: string; // ISO 8601 with a zone, as the API wants it
  created_before: string;
  q: string;
  sort: string;
  limit: number;
  cursor: string;
}

export function readFilters(search: URLSearchParams): Filters {
  const limit = Number(search.get("limit"));
  const sort = search.get("sort") ?? "";
  return {
    status: search.getAll("status").filter((s) => (STATUSES as readonly string[]).includes(s)),
    workflow_id: search.get("workflow_id") ?? "",
    trigger: search.get("trigger") ?? "",
    created_after: search.get("created_after") ?? "",
    created_before: search.get("created_before") ?? "",
    q: search.get("q") ?? "",
    sort: SORTS.some(([value]) => value === sort) ? sort : "-created_at",
    limit: Number.isInteger(limit) && limit >= 1 && limit <= 1000 ? limit : 50,
    cursor: search.get("cursor") ?? "",
  };
}

/** The filters that select executions (what stats and export take too): no sort, page, cursor. */
export function selection(f: Filters): Record<string, string | string[]> {
  return {
    status: f.status,
    workflow_id: f.workflow_id,
    trigger: f.trigger,
    created_after: f.created_after,
    created_before: f.created_before,
    q: f.q,
  };
}

/** The address's query for ``f`` (defaults left out, so plain views keep plain addresses). */
export function toSearch(f: Filters): Record<string, string | string[]> {
  return {
    ...selection(f),
    sort: f.sort === "-created_at" ? "" : f.sort,
    limit: f.limit === 50 ? "" : String(f.limit),
    cursor: f.cursor,
  };
}

/** ``<input type=datetime-local>``'s value (local time) as ISO 8601 in UTC, or "". */
export function localToIso(value: string): string {
  if (!value) return "";
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? "" : date.toISOString();
}

/** ISO 8601 as ``<input type=datetime-local>``'s value (local time, minutes), or "". */
export function isoToLocal(value: string): string {
  if (!value) return "";
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return "";
  const pad = (n: number) => String(n).padStart(2, "0");
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}`
  );
}
