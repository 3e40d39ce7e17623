// History (/ui/executions): the executions table with filters kept in the address, keyset
// paging (a stack of cursors for "Previous page"), statistics, export, bulk delete, re-run.
import { useEffect, useState } from "preact/hooks";
import { useLocation, useSearch } from "wouter-preact";
import { API, get, post, query } from "../api";
import { announce, ErrorNote, Loading, StatusBadge, useLoad, useTitle } from "../components/common";
import { FilterForm } from "./history-form";
import { type Filters, readFilters, selection, toSearch } from "./history-filters";
import { ExecutionTable, type ExecutionRow } from "./history-table";
import "./history.css";

interface Page {
  items: ExecutionRow[];
  next_cursor: string | null;
}

interface Stats {
  total: number;
  by_status: Record<string, number>;
  success_rate: number | null;
  p50_ms: number | null;
  p95_ms: number | null;
}

interface DeleteResult {
  deleted: string[];
  unfinished: string[];
  not_found: string[];
}

export function History() {
  useTitle("Executions");
  const search = useSearch();
  const [, navigate] = useLocation();
  const filters = readFilters(new URLSearchParams(search));
  const selectionKey = JSON.stringify(selection(filters));
  // Cursors of the pages before this one ("" is the first page), for "Previous page".
  const [stack, setStack] = useState<string[]>([]);
  const [chosen, setChosen] = useState<Set<string>>(new Set());
  const [confirming, setConfirming] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const [actionError, setActionError] = useState<unknown>(null);

  const [page, error, reload] = useLoad(
    () => get<Page>("/executions" + query({ ...selection(filters), sort: filters.sort, limit: filters.limit, cursor: filters.cursor })),
    [search],
  );
  const [stats, statsError, reloadStats] = useLoad(
    () => get<Stats>("/executions/stats" + query(selection(filters))),
    [selectionKey],
  );

  useEffect(() => {
    // The back button (or a bookmark) moved to another page: keep only the cursors before it.
    const at = stack.indexOf(filters.cursor);
    if (at >= 0) setStack(stack.slice(0, at));
    else if (!filters.cursor) setStack([]);
    setChosen(new Set());
    setConfirming(false);
  }, [search]);

  useEffect(() => {
    if (page) announce(`${page.items.length} executions shown${page.next_cursor ? ", more on the next page" : ""}`);
  }, [page]);

  const go = (next: Filters) => navigate("/executions" + query(toSearch(next)));

  const nextPage = () => {
    if (!page?.next_cursor) return;
    setStack([...stack, filters.cursor]);
    go({ ...filters, cursor: page.next_cursor });
  };
  const previousPage = () => {
    if (!stack.length) return;
    const before = stack[stack.length - 1];
    setStack(stack.slice(0, -1));
    go({ ...filters, cursor: before });
  };

  const deleteChosen = async () => {
    setActionError(null);
    try {
      const result = await post<DeleteResult>("/executions/delete", { ids: [...chosen] });
      const parts = [`Deleted ${result.deleted.length} execution${result.deleted.length === 1 ? "" : "s"}`];
      if (result.unfinished.length) parts.push(`${result.unfinished.length} not finished, kept`);
      if (result.not_found.length) parts.push(`${result.not_found.length} already gone`);
      const text = parts.join("; ") + ".";
      setNotice(text);
      announce(text);
      setChosen(new Set());
      setConfirming(false);
      reload();
      reloadStats();
    } catch (failure) {
      setActionError(failure);
    }
  };

  const rerun = async (id: string) => {
    setActionError(null);
    try {
      const started = await post<{ execution_id: string }>(`/executions/${id}/rerun`, {});
      announce(`Re-run started: execution ${started.execution_id}`);
      navigate(`/executions/${started.execution_id}`);
    } catch (failure) {
      setActionError(failure);
    }
  };

  const exportLink = (format: "csv" | "json") =>
    `${API}/executions/export${query({ format, ...selection(filters), sort: filters.sort })}`;

  return (
    <>
      <h1>Executions</h1>
      <FilterForm filters={filters} onApply={(next) => go({ ...next, cursor: "" })} />
      <StatsPanel stats={stats} error={statsError} />
      <div class="toolbar history-actions">
        <a class="button secondary" href={exportLink("csv")} download="executions.csv">
          Export CSV
        </a>
        <a class="button secondary" href={exportLink("json")} download="executions.json">
          Export JSON
        </a>
        <button type="button" class="danger" disabled={!chosen.size} onClick={() => setConfirming(true)}>
          Delete selected ({chosen.size})
        </button>
      </div>
      {confirming && (
        <div class="warn-note" role="alertdialog" aria-labelledby="confirm-delete-text">
          <p id="confirm-delete-text">
            Delete {chosen.size} execution{chosen.size === 1 ? "" : "s"} with their steps, events and logs? This
            cannot be undone; unfinished executions are kept.
          </p>
          <button type="button" class="danger" onClick={deleteChosen}>
            Confirm delete
          </button>{" "}
          <button type="button" class="secondary" onClick={() => setConfirming(false)}>
            Cancel
          </button>
        </div>
      )}
      {notice && (
        <p class="ok-note" role="status">
          {notice}
        </p>
      )}
      <ErrorNote error={actionError} />
      <ErrorNote error={error} title="Executions could not be listed" />
      {page === undefined && !error && <Loading what="executions" />}
      {page && (
        <>
          <ExecutionTable
            items={page.items}
            sort={filters.sort}
            onSort={(sort) => go({ ...filters, sort, cursor: "" })}
            chosen={chosen}
            onChoose={setChosen}
            onRerun={rerun}
          />
          <nav class="toolbar pager" aria-label="Pages">
            <button type="button" class="secondary" disabled={!stack.length} onClick={previousPage}>
              Previous page
            </button>
            <span>Page {stack.length + 1}</span>
            <button type="button" class="secondary" disabled={!page.next_cursor} onClick={nextPage}>
              Next page
            </button>
          </nav>
        </>
      )}
    </>
  );
}

function StatsPanel({ stats, error }: { stats: Stats | undefined; error: unknown }) {
  if (error) return <ErrorNote error={error} title="Statistics could not be computed" />;
  if (!stats) return <Loading what="statistics" />;
  const rate = stats.success_rate === null ? "–" : `${(stats.success_rate * 100).toFixed(1)} %`;
  const ms = (v: number | null) => (v === null ? "–" : v < 1000 ? `${Math.round(v)} ms` : `${(v / 1000).toFixed(2)} s`);
  return (
    <section class="panel history-stats" aria-labelledby="history-stats">
      <h2 id="history-stats">Statistics of the matching executions</h2>
      <dl>
        <div>
          <dt>Total</dt>
          <dd>{stats.total}</dd>
        </div>
        {Object.entries(stats.by_status).map(([status, count]) => (
          <div key={status}>
            <dt>
              <StatusBadge status={status} />
            </dt>
            <dd>{count}</dd>
          </div>
        ))}
        <div>
          <dt>Success rate</dt>
          <dd>{rate}</dd>
        </div>
        <div>
          <dt>p50 duration</dt>
          <dd>{ms(stats.p50_ms)}</dd>
        </div>
        <div>
          <dt>p95 duration</dt>
          <dd>{ms(stats.p95_ms)}</dd>
        </div>
      </dl>
    </section>
  );
}
