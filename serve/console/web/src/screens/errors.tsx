// Error patterns (/ui/errors): recorded failures grouped by workflow, step, category and
// normalised message, most frequent first, with recovery suggestions (GET /errors/patterns).
import { useState } from "preact/hooks";
import { Link } from "wouter-preact";
import { get, query } from "../api";
import { ErrorNote, Loading, useLoad, useTitle, when } from "../components/common";
import "./execution.css";

interface ErrorPattern {
  workflow_id: string;
  node_id: string | null;
  category: string;
  pattern: string;
  count: number;
  first_seen: string;
  last_seen: string;
  example_message: string;
  example_execution_id: string;
  suggestions: string[];
}

/** A ``datetime-local`` value (the browser's local time) as ISO 8601 UTC, or null. */
function isoFromLocal(value: string): string | null {
  if (!value) return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

export function ErrorPatterns() {
  useTitle("Error patterns");
  const [workflow, setWorkflow] = useState("");
  const [since, setSince] = useState("");
  const [applied, setApplied] = useState({ workflow: "", since: "" });
  const [found, error, reload] = useLoad(
    () =>
      get<{ items: ErrorPattern[] }>(
        `/errors/patterns${query({ workflow_id: applied.workflow.trim() || null, since: isoFromLocal(applied.since) })}`,
      ),
    [applied],
  );

  return (
    <>
      <h1>Error patterns</h1>
      <p class="help">
        Failures across executions that look alike, grouped by workflow, step, category and message (numbers and ids
        left out), most frequent first.
      </p>
      <form
        class="toolbar"
        onSubmit={(event) => {
          event.preventDefault();
          setApplied({ workflow, since });
        }}
      >
        <div class="field">
          <label for="patterns-workflow">Workflow id</label>
          <input id="patterns-workflow" value={workflow} onInput={(e) => setWorkflow((e.currentTarget as HTMLInputElement).value)} />
        </div>
        <div class="field">
          <label for="patterns-since">Since</label>
          <input
            id="patterns-since"
            type="datetime-local"
            value={since}
            onInput={(e) => setSince((e.currentTarget as HTMLInputElement).value)}
          />
        </div>
        <button type="submit">Apply</button>
        <button type="button" class="secondary" onClick={reload}>
          Refresh
        </button>
      </form>
      <ErrorNote error={error} title="Could not load the error patterns" />
      {!found && !error && <Loading what="the error patterns" />}
      {found &&
        (found.items.length === 0 ? (
          <p>No failure recorded{applied.workflow || applied.since ? " for this filter" : ""}.</p>
        ) : (
          <div class="table-scroll" role="region" aria-label="Error patterns table" tabIndex={0}>
            <table class="patterns">
              <caption class="sr-only">Error patterns, most frequent first</caption>
              <thead>
                <tr>
                  <th scope="col" class="num">
                    Count
                  </th>
                  <th scope="col">Workflow</th>
                  <th scope="col">Step</th>
                  <th scope="col">Category</th>
                  <th scope="col">Pattern</th>
                  <th scope="col">First seen</th>
                  <th scope="col">Last seen</th>
                  <th scope="col">Latest example</th>
                  <th scope="col">Suggestions</th>
                </tr>
              </thead>
              <tbody>
                {found.items.map((p) => (
                  <tr key={`${p.workflow_id}/${p.node_id}/${p.category}/${p.pattern}`}>
                    <td class="num">{p.count}</td>
                    <td>
                      <Link href={`/workflows/${encodeURIComponent(p.workflow_id)}`}>{p.workflow_id}</Link>
                    </td>
                    <td>{p.node_id ? <code>{p.node_id}</code> : "the execution"}</td>
                    <td>
                      <code>{p.category}</code>
                    </td>
                    <td class="pattern-text">{p.pattern}</td>
                    <td>{when(p.first_seen)}</td>
                    <td>{when(p.last_seen)}</td>
                    <td>
                      <Link href={`/executions/${p.example_execution_id}#recovery`}>
                        execution {p.example_execution_id.slice(0, 12)}
                      </Link>
                      <div class="help">{p.example_message}</div>
                    </td>
                    <td>
                      <ul class="compact">
                        {p.suggestions.map((s) => (
                          <li key={s}>{s}</li>
                        ))}
                      </ul>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ))}
    </>
  );
}
