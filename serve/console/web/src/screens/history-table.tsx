// The History screen's table: one row per execution, a checkbox to choose it for deletion,
// sortable time columns (aria-sort), a link to its page and a quick re-run.
import { Link } from "wouter-preact";
import { duration, StatusBadge, when } from "../components/common";

export interface ExecutionRow {
  id: string;
  workflow_id: string;
  workflow_version: number | null;
  status: string;
  trigger: string;
  created_at: string | null;
  ended_at: string | null;
  duration_ms: number | null;
  parent_id: string | null;
  error: { category?: string; message?: string } | null;
}

interface Props {
  items: ExecutionRow[];
  sort: string;
  onSort: (sort: string) => void;
  chosen: Set<string>;
  onChoose: (chosen: Set<string>) => void;
  onRerun: (id: string) => void;
}

function SortHeader({ field, label, sort, onSort }: { field: string; label: string; sort: string; onSort: (s: string) => void }) {
  const current = sort === field ? "ascending" : sort === `-${field}` ? "descending" : undefined;
  const next = current === "descending" ? field : `-${field}`;
  return (
    <th scope="col" aria-sort={current ?? "none"}>
      <button type="button" class="link sort" onClick={() => onSort(next)}>
        {label}
        <span aria-hidden="true">{current === "ascending" ? " ▲" : current === "descending" ? " ▼" : ""}</span>
      </button>
    </th>
  );
}

export function ExecutionTable({ items, sort, onSort, chosen, onChoose, onRerun }: Props) {
  if (!items.length) return <p class="help">No executions match these filters.</p>;
  const all = items.every((row) => chosen.has(row.id));
  const choose = (id: string, on: boolean) => {
    const next = new Set(chosen);
    if (on) next.add(id);
    else next.delete(id);
    onChoose(next);
  };
  return (
    <div class="history-table">
      <table>
        <caption class="sr-only">Executions matching the filters</caption>
        <thead>
          <tr>
            <th scope="col">
              <input
                type="checkbox"
                aria-label="Select every execution on this page"
                checked={all}
                onChange={(e) =>
                  onChoose((e.target as HTMLInputElement).checked ? new Set(items.map((r) => r.id)) : new Set())
                }
              />
            </th>
            <th scope="col">Execution</th>
            <th scope="col">Workflow</th>
            <th scope="col">Status</th>
            <th scope="col">Trigger</th>
            <SortHeader field="created_at" label="Created" sort={sort} onSort={onSort} />
            <SortHeader field="ended_at" label="Ended" sort={sort} onSort={onSort} />
            <SortHeader field="duration_ms" label="Duration" sort={sort} onSort={onSort} />
            <th scope="col">Error</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {items.map((row) => (
            <tr key={row.id} class={chosen.has(row.id) ? "chosen" : ""}>
              <td>
                <input
                  type="checkbox"
                  aria-label={`Select execution ${row.id}`}
                  checked={chosen.has(row.id)}
                  onChange={(e) => choose(row.id, (e.target as HTMLInputElement).checked)}
                />
              </td>
              <td>
                <Link href={`/executions/${row.id}`} class="mono" aria-label={`Execution ${row.id}`}>
                  {row.id.slice(0, 12)}
                </Link>
              </td>
              <td>
                {row.workflow_id}
                {row.workflow_version !== null && <span class="help"> v{row.workflow_version}</span>}
              </td>
              <td>
                <StatusBadge status={row.status} />
              </td>
              <td>{row.trigger}</td>
              <td>{when(row.created_at)}</td>
              <td>{when(row.ended_at)}</td>
              <td class="num">{duration(row.duration_ms)}</td>
              <td class="history-error">
                {row.error ? (
                  <>
                    <code>{row.error.category}</code> {row.error.message}
                  </>
                ) : (
                  ""
                )}
              </td>
              <td>
                <button type="button" class="secondary" aria-label={`Re-run execution ${row.id}`} onClick={() => onRerun(row.id)}>
                  Re-run
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
