// Triggers (GET /triggers: type, state, next and last fire; enable, disable, fire now) and
// circuit breakers (GET /breakers; reset one or all).
import { useState } from "preact/hooks";
import { Link, useLocation } from "wouter-preact";
import { get, post } from "../api";
import { announce, ErrorNote, Loading, Section, useLoad, when } from "../components/common";

interface Trigger {
  workflow_id: string;
  trigger_id: string;
  type: string;
  enabled: boolean;
  state: string;
  next_fire_at: string | null;
  last_fired_at: string | null;
  last_execution_id: string | null;
  fires: number;
  skipped: number;
  last_error: string | null;
  breaker: string | null;
  detail: Record<string, unknown>;
}

interface Breaker {
  key: string;
  state: string;
  failures: number;
  opened_at: string | null;
  probe_at: string | null;
  last_error: string | null;
  settings: { failure_threshold: number; window_s: number };
}

const STATE_BADGE: Record<string, string> = {
  running: "status-running",
  disabled: "status-cancelled",
  error: "status-failed",
  idle: "status-queued",
  closed: "status-completed",
  half_open: "status-paused",
  open: "status-failed",
};

function Badge({ state }: { state: string }) {
  return <span class={`badge ${STATE_BADGE[state] ?? "status-queued"}`}>{state.replace("_", "-")}</span>;
}

function describe(t: Trigger): string {
  const d = t.detail;
  if (d.cron) return `cron ${String(d.cron)}${d.timezone ? ` (${String(d.timezone)})` : ""}`;
  if (d.every_s) return `every ${String(d.every_s)} s`;
  if (d.path) return `POST ${String(d.path)}`;
  if (d.queue) return `queue ${String(d.queue)}`;
  return "";
}

export function Triggers() {
  const [list, error, reload] = useLoad(() => get<{ items: Trigger[] }>("/triggers"), []);
  const [failure, setFailure] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [, navigate] = useLocation();

  const act = async (t: Trigger, action: "enable" | "disable" | "fire") => {
    setFailure(null);
    const name = `${t.workflow_id}/${t.trigger_id}`;
    try {
      const path = `/triggers/${encodeURIComponent(t.workflow_id)}/${encodeURIComponent(t.trigger_id)}/${action}`;
      if (action === "fire") {
        const run = await post<{ execution_id: string }>(path);
        announce(`Trigger ${name} fired: execution ${run.execution_id}`);
        navigate(`/executions/${run.execution_id}`);
        return;
      }
      const view = await post<Trigger>(path);
      const text = `Trigger ${name} ${view.enabled ? "enabled" : "disabled"} (${view.state}).`;
      setNotice(text);
      announce(text);
      reload();
    } catch (e) {
      setFailure(e);
    }
  };

  return (
    <Section title="Triggers">
      <ErrorNote error={error} title="Triggers could not be listed" />
      <ErrorNote error={failure} title="The trigger was not changed" />
      {notice && (
        <p class="ok-note" role="status">
          {notice}
        </p>
      )}
      {!list && !error && <Loading what="triggers" />}
      {list &&
        (list.items.length ? (
          <div class="history-table">
            <table>
              <caption class="sr-only">Triggers of the registered workflows</caption>
              <thead>
                <tr>
                  <th scope="col">Trigger</th>
                  <th scope="col">Type</th>
                  <th scope="col">State</th>
                  <th scope="col">Next fire</th>
                  <th scope="col">Last fire</th>
                  <th scope="col" class="num">Fires</th>
                  <th scope="col">Breaker</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {list.items.map((t) => {
                  const name = `${t.workflow_id}/${t.trigger_id}`;
                  return (
                    <tr key={name}>
                      <th scope="row">
                        <span class="mono">{name}</span>
                        {describe(t) && <div class="help">{describe(t)}</div>}
                        {t.last_error && <div class="field-error">{t.last_error}</div>}
                      </th>
                      <td>{t.type}</td>
                      <td>
                        <Badge state={t.state} />
                      </td>
                      <td>{when(t.next_fire_at)}</td>
                      <td>
                        {when(t.last_fired_at)}
                        {t.last_execution_id && (
                          <>
                            {" "}
                            <Link href={`/executions/${t.last_execution_id}`} aria-label={`Last execution of ${name}`}>
                              run
                            </Link>
                          </>
                        )}
                      </td>
                      <td class="num">{t.fires}</td>
                      <td>{t.breaker ? <Badge state={t.breaker} /> : "–"}</td>
                      <td class="actions">
                        {t.enabled ? (
                          <button type="button" class="secondary" aria-label={`Disable trigger ${name}`} onClick={() => act(t, "disable")}>
                            Disable
                          </button>
                        ) : (
                          <button type="button" class="secondary" aria-label={`Enable trigger ${name}`} onClick={() => act(t, "enable")}>
                            Enable
                          </button>
                        )}{" "}
                        <button type="button" aria-label={`Fire trigger ${name} now`} onClick={() => act(t, "fire")}>
                          Fire now
                        </button>
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        ) : (
          <p>No triggers: a workflow's document declares them (schedule, webhook, queue, startup).</p>
        ))}
      <button type="button" class="secondary" onClick={reload}>
        Refresh triggers
      </button>
    </Section>
  );
}

export function Breakers() {
  const [list, error, reload] = useLoad(() => get<{ items: Breaker[] }>("/breakers"), []);
  const [failure, setFailure] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const reset = async (key: string | null) => {
    setFailure(null);
    try {
      if (key === null) {
        const done = await post<{ reset: string[] }>("/breakers/reset");
        setNotice(`${done.reset.length} breaker${done.reset.length === 1 ? "" : "s"} closed.`);
      } else {
        await post(`/breakers/${encodeURIComponent(key)}/reset`);
        setNotice(`Breaker ${key} closed.`);
      }
      announce("Circuit breakers reset");
      reload();
    } catch (e) {
      setFailure(e);
    }
  };

  return (
    <Section title="Circuit breakers">
      <ErrorNote error={error} title="Circuit breakers could not be listed" />
      <ErrorNote error={failure} title="The breaker was not reset" />
      {notice && (
        <p class="ok-note" role="status">
          {notice}
        </p>
      )}
      {!list && !error && <Loading what="circuit breakers" />}
      {list &&
        (list.items.length ? (
          <table>
            <caption class="sr-only">Circuit breakers</caption>
            <thead>
              <tr>
                <th scope="col">Key</th>
                <th scope="col">State</th>
                <th scope="col" class="num">Failures in window</th>
                <th scope="col">Opened</th>
                <th scope="col">Probe at</th>
                <th scope="col">Last error</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {list.items.map((b) => (
                <tr key={b.key}>
                  <th scope="row" class="mono">
                    {b.key}
                  </th>
                  <td>
                    <Badge state={b.state} />
                  </td>
                  <td class="num">
                    {b.failures} of {b.settings.failure_threshold} in {b.settings.window_s} s
                  </td>
                  <td>{when(b.opened_at)}</td>
                  <td>{when(b.probe_at)}</td>
                  <td>{b.last_error ?? "–"}</td>
                  <td>
                    <button type="button" class="secondary" aria-label={`Reset breaker ${b.key}`} onClick={() => reset(b.key)}>
                      Reset
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <p>No circuit breakers yet: they appear once a workflow with breakers on has run.</p>
        ))}
      <div class="toolbar">
        <button type="button" class="secondary" onClick={() => reset(null)} disabled={!list?.items.length}>
          Reset all breakers
        </button>
        <button type="button" class="secondary" onClick={reload}>
          Refresh breakers
        </button>
      </div>
    </Section>
  );
}
