// The History screen's filter form: edits a copy of the filters, applies them on submit (one
// address change, so the back button returns to the previous filters).
import { useEffect, useState } from "preact/hooks";
import { get } from "../api";
import { useLoad } from "../components/common";
import {
  type Filters,
  isoToLocal,
  localToIso,
  PAGE_SIZES,
  SORTS,
  STATUSES,
} from "./history-filters";

const TRIGGERS = ["api", "cli", "schedule", "webhook", "amqp", "manual", "startup", "clicker"];

export function FilterForm({ filters, onApply }: { filters: Filters; onApply: (f: Filters) => void }) {
  const [draft, setDraft] = useState<Filters>(filters);
  const [after, setAfter] = useState(isoToLocal(filters.created_after));
  const [before, setBefore] = useState(isoToLocal(filters.created_before));
  const key = JSON.stringify({ ...filters, cursor: "" });
  useEffect(() => {
    setDraft(filters);
    setAfter(isoToLocal(filters.created_after));
    setBefore(isoToLocal(filters.created_before));
  }, [key]);
  const [workflows] = useLoad(() => get<{ items: Array<{ id: string }> }>("/workflows"), []);

  const toggle = (status: string, on: boolean) =>
    setDraft({ ...draft, status: on ? [...draft.status, status] : draft.status.filter((s) => s !== status) });
  const submit = (event: Event) => {
    event.preventDefault();
    // The inputs show minutes only: a bound from the address that was not edited keeps its
    // exact time (else applying any other filter would silently widen the range).
    const exact = (local: string, iso: string) => (local === isoToLocal(iso) ? iso : localToIso(local));
    onApply({
      ...draft,
      created_after: exact(after, filters.created_after),
      created_before: exact(before, filters.created_before),
    });
  };
  const clear = () =>
    onApply({
      status: [],
      workflow_id: "",
      trigger: "",
      created_after: "",
      created_before: "",
      q: "",
      sort: draft.sort,
      limit: draft.limit,
      cursor: "",
    });

  return (
    <form class="panel history-filters" onSubmit={submit} aria-labelledby="history-filters">
      <h2 id="history-filters">Filters</h2>
      <fieldset class="history-statuses">
        <legend>Status</legend>
        {STATUSES.map((status) => (
          <label key={status} class="inline">
            <input
              type="checkbox"
              checked={draft.status.includes(status)}
              onChange={(e) => toggle(status, (e.target as HTMLInputElement).checked)}
            />{" "}
            {status[0].toUpperCase() + status.slice(1)}
          </label>
        ))}
      </fieldset>
      <div class="history-fields">
        <div class="field">
          <label for="filter-workflow">Workflow</label>
          <input
            id="filter-workflow"
            list="filter-workflow-ids"
            value={draft.workflow_id}
            onInput={(e) => setDraft({ ...draft, workflow_id: (e.target as HTMLInputElement).value.trim() })}
          />
          <datalist id="filter-workflow-ids">
            {workflows?.items.map((w) => <option key={w.id} value={w.id} />)}
          </datalist>
        </div>
        <div class="field">
          <label for="filter-trigger">Trigger</label>
          <input
            id="filter-trigger"
            list="filter-trigger-kinds"
            value={draft.trigger}
            onInput={(e) => setDraft({ ...draft, trigger: (e.target as HTMLInputElement).value.trim() })}
          />
          <datalist id="filter-trigger-kinds">
            {TRIGGERS.map((t) => (
              <option key={t} value={t} />
            ))}
          </datalist>
        </div>
        <div class="field">
          <label for="filter-after">Created from</label>
          <input
            id="filter-after"
            type="datetime-local"
            value={after}
            onInput={(e) => setAfter((e.target as HTMLInputElement).value)}
          />
        </div>
        <div class="field">
          <label for="filter-before">Created before</label>
          <input
            id="filter-before"
            type="datetime-local"
            value={before}
            onInput={(e) => setBefore((e.target as HTMLInputElement).value)}
          />
        </div>
        <div class="field">
          <label for="filter-q">Error text</label>
          <input
            id="filter-q"
            type="search"
            value={draft.q}
            aria-describedby="filter-q-help"
            onInput={(e) => setDraft({ ...draft, q: (e.target as HTMLInputElement).value })}
          />
          <p class="help" id="filter-q-help">
            Words in the execution's or its steps' error messages.
          </p>
        </div>
        <div class="field">
          <label for="filter-sort">Sort</label>
          <select
            id="filter-sort"
            value={draft.sort}
            onChange={(e) => setDraft({ ...draft, sort: (e.target as HTMLSelectElement).value })}
          >
            {SORTS.map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="filter-limit">Per page</label>
          <select
            id="filter-limit"
            value={String(draft.limit)}
            onChange={(e) => setDraft({ ...draft, limit: Number((e.target as HTMLSelectElement).value) })}
          >
            {(PAGE_SIZES.includes(draft.limit) ? PAGE_SIZES : [draft.limit, ...PAGE_SIZES]).map((n) => (
              <option key={n} value={String(n)}>
                {n}
              </option>
            ))}
          </select>
        </div>
      </div>
      <div class="toolbar">
        <button type="submit">Apply filters</button>
        <button type="button" class="secondary" onClick={clear}>
          Clear filters
        </button>
      </div>
    </form>
  );
}
