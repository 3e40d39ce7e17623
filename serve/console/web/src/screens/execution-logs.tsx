// Live logs: the execution's log entries as they arrive (SSE, resumed with Last-Event-ID),
// filtered by level and searched with the matches highlighted; the whole log as a download.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { API, follow, get, query } from "../api";
import { ErrorNote, Loading } from "../components/common";

interface LogEntry {
  id: number;
  ts: string;
  level: string;
  node_id: string | null;
  source: string;
  message: string;
}

const RANK: Record<string, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const LEVELS: Array<[string, string]> = [
  ["debug", "Everything (debug and above)"],
  ["info", "Info and above"],
  ["warn", "Warnings and errors"],
  ["error", "Errors only"],
];

function Highlighted({ text, search }: { text: string; search: string }) {
  if (!search) return <>{text}</>;
  const parts: Array<string | { mark: string }> = [];
  const lower = text.toLowerCase();
  const needle = search.toLowerCase();
  let at = 0;
  for (let found = lower.indexOf(needle); found !== -1; found = lower.indexOf(needle, at)) {
    if (found > at) parts.push(text.slice(at, found));
    parts.push({ mark: text.slice(found, found + needle.length) });
    at = found + needle.length;
  }
  if (at < text.length) parts.push(text.slice(at));
  return <>{parts.map((p, i) => (typeof p === "string" ? p : <mark key={i}>{p.mark}</mark>))}</>;
}

export function LogsPanel({ executionId, terminal }: { executionId: string; terminal: boolean }) {
  const [entries, setEntries] = useState<LogEntry[]>([]);
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [streamState, setStreamState] = useState<string>("");
  const [level, setLevel] = useState("debug");
  const [search, setSearch] = useState("");
  const box = useRef<HTMLDivElement>(null);
  const pinned = useRef(true);
  const ended = useRef(terminal);
  ended.current = terminal;
  // Started once per execution: a finished one is read whole, a live one followed.
  const startedTerminal = useRef(terminal);

  useEffect(() => {
    if (startedTerminal.current) {
      get<{ items: LogEntry[] }>(`/executions/${executionId}/logs`).then(
        (found) => {
          setEntries(found.items);
          setLoaded(true);
        },
        setError,
      );
      return;
    }
    setLoaded(true);
    const seen = new Set<number>();
    const stop = follow(
      `/executions/${executionId}/logs/stream`,
      (entry: LogEntry) => {
        if (seen.has(entry.id)) return;
        seen.add(entry.id);
        setEntries((now) => [...now, entry]);
      },
      (state) => {
        // The log stream ends with the execution; the browser would reconnect to it forever.
        if (state === "reconnecting" && ended.current) {
          stop();
          setStreamState("ended");
        } else setStreamState(state);
      },
      () => false,
    );
    return stop;
  }, [executionId]);

  const shown = useMemo(() => {
    const needle = search.toLowerCase();
    return entries.filter(
      (e) => (RANK[e.level] ?? 20) >= (RANK[level] ?? 10) && (!needle || e.message.toLowerCase().includes(needle)),
    );
  }, [entries, level, search]);

  useEffect(() => {
    if (box.current && pinned.current) box.current.scrollTop = box.current.scrollHeight;
  }, [shown.length]);

  const download = (format: string) =>
    `${API}/executions/${executionId}/logs/download${query({ format, level: level === "debug" ? null : level, q: search || null })}`;

  return (
    <>
      <div class="toolbar">
        <div class="field">
          <label for="log-level">Level</label>
          <select id="log-level" value={level} onChange={(e) => setLevel((e.currentTarget as HTMLSelectElement).value)}>
            {LEVELS.map(([value, text]) => (
              <option key={value} value={value}>
                {text}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="log-search">Search</label>
          <input id="log-search" type="search" value={search} onInput={(e) => setSearch((e.currentTarget as HTMLInputElement).value)} />
        </div>
        <p class="help log-count" aria-live="polite">
          {shown.length} of {entries.length} entries shown
          {streamState === "open" && !terminal ? " · live" : ""}
          {streamState === "reconnecting" && !terminal ? " · reconnecting…" : ""}
        </p>
        <a class="button secondary" href={download("text")} download>
          Download log (text)
        </a>
        <a class="button secondary" href={download("jsonl")} download>
          Download log (JSON Lines)
        </a>
      </div>
      <ErrorNote error={error} title="Could not load the log" />
      {!loaded && !error && <Loading what="the log" />}
      <div
        class="log-box"
        ref={box}
        tabIndex={0}
        role="region"
        aria-label="Log entries"
        onScroll={(e) => {
          const el = e.currentTarget as HTMLDivElement;
          pinned.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
        }}
      >
        {shown.length === 0 ? (
          <p class="help">{entries.length ? "No entry matches the filter." : terminal ? "This execution wrote no log." : "No log entry yet."}</p>
        ) : (
          <table class="log-table">
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Level</th>
                <th scope="col">Step</th>
                <th scope="col">Message</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((e) => (
                <tr key={e.id} class={`log-${e.level}`}>
                  <td class="mono">{new Date(e.ts).toLocaleTimeString()}</td>
                  <td>
                    <span class={`log-level level-${e.level}`}>{e.level.toUpperCase()}</span>
                  </td>
                  <td>{e.node_id ? <code>{e.node_id}</code> : e.source}</td>
                  <td class="log-message">
                    <Highlighted text={e.message} search={search} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
    </>
  );
}
