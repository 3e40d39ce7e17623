// Settings (/ui/settings): the runtime settings form, export/import, per-workflow overrides,
// credentials (write-only), triggers and circuit breakers.
import { useRef, useState } from "preact/hooks";
import { API, ApiFailure, get, post } from "../api";
import { announce, ErrorNote, Loading, Section, useLoad, useTitle } from "../components/common";
import { Credentials } from "./settings-credentials";
import { WorkflowOverrides } from "./settings-overrides";
import { RuntimeSettingsForm, type SettingsView } from "./settings-runtime";
import { Breakers, Triggers } from "./settings-triggers";
import "./history.css";
import "./settings.css";

export function Settings() {
  useTitle("Settings");
  const [view, error, reload] = useLoad(() => get<SettingsView>("/settings"), []);
  const [latest, setLatest] = useState<SettingsView | null>(null);
  const shown = latest ?? view;
  return (
    <>
      <h1>Settings</h1>
      <nav class="toolbar" aria-label="Settings sections">
        <a href="#runtime-settings">Runtime settings</a>
        <a href="#export-and-import">Export and import</a>
        <a href="#per-workflow-overrides">Per-workflow overrides</a>
        <a href="#credentials">Credentials</a>
        <a href="#triggers">Triggers</a>
        <a href="#circuit-breakers">Circuit breakers</a>
      </nav>
      <ErrorNote error={error} title="The settings could not be read" />
      {!shown && !error && <Loading what="the settings" />}
      {shown && <RuntimeSettingsForm view={shown} onSaved={setLatest} />}
      <ExportImport
        onImported={(v) => {
          setLatest(v);
          reload();
        }}
      />
      <WorkflowOverrides />
      <Credentials />
      <Triggers />
      <Breakers />
    </>
  );
}

function ExportImport({ onImported }: { onImported: (v: SettingsView) => void }) {
  const file = useRef<HTMLInputElement>(null);
  const [failure, setFailure] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const importFile = async (event: Event) => {
    event.preventDefault();
    setFailure(null);
    setNotice(null);
    const chosen = file.current?.files?.[0];
    if (!chosen) {
      setFailure(new Error("Choose a settings file (made by Export) first."));
      return;
    }
    setBusy(true);
    try {
      let document: unknown;
      try {
        document = JSON.parse(await chosen.text());
      } catch (e) {
        throw new Error(`${chosen.name} is not JSON: ${(e as Error).message}`);
      }
      const result = await post<SettingsView>("/settings/import", document);
      const text = `Imported ${chosen.name}.` + (result.restart_required.length ? ` Waiting for a restart: ${result.restart_required.join(", ")}.` : "");
      setNotice(text);
      announce(text);
      onImported(result);
    } catch (e) {
      setFailure(e);
      if (e instanceof ApiFailure) announce(e.message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Section title="Export and import">
      <p class="help">
        One JSON document with the runtime settings and every workflow's overrides; credentials are never in it.
      </p>
      <p>
        <a class="button secondary" href={`${API}/settings/export`} download="runtime-hub-settings.json">
          Export settings
        </a>
      </p>
      <form class="toolbar" onSubmit={importFile}>
        <div class="field">
          <label for="settings-import-file">Settings file to import</label>
          <input id="settings-import-file" type="file" accept="application/json,.json" ref={file} />
        </div>
        <div class="field">
          <button type="submit" disabled={busy}>
            Import settings
          </button>
        </div>
      </form>
      <p class="help">The whole document is validated before anything changes.</p>
      <ErrorNote error={failure} title="The settings were not imported" />
      {notice && (
        <p class="ok-note" role="status">
          {notice}
        </p>
      )}
    </Section>
  );
}
