// Credentials: names and dates listed (GET /credentials never returns a value); a value is
// written once from a password input (PUT /credentials/{name}) and never shown again.
import { useState } from "preact/hooks";
import { ApiFailure, del, get, put } from "../api";
import { announce, ErrorNote, Loading, Section, useLoad, when } from "../components/common";

interface Credential {
  name: string;
  created_at: string;
  updated_at: string;
}

export function Credentials() {
  const [list, error, reload] = useLoad(() => get<{ items: Credential[] }>("/credentials"), []);
  const [name, setName] = useState("");
  const [value, setValue] = useState("");
  const [asJson, setAsJson] = useState(false);
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const [failure, setFailure] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const save = async (event: Event) => {
    event.preventDefault();
    setFailure(null);
    setNotice(null);
    const errors: Record<string, string> = {};
    if (!/^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/.test(name))
      errors.name = "Start with a letter or _, then letters, digits, _ . or - (at most 128).";
    let body: unknown = value;
    if (!value) errors.value = "Enter the credential's value.";
    else if (asJson) {
      try {
        body = JSON.parse(value);
        if (typeof body !== "object" || body === null || Array.isArray(body)) errors.value = "A JSON object is needed.";
      } catch (e) {
        errors.value = `Not JSON: ${(e as Error).message}`;
      }
    }
    setFieldErrors(errors);
    if (Object.keys(errors).length) return;
    try {
      await put(`/credentials/${encodeURIComponent(name)}`, { value: body });
      const text = `Credential ${name} saved.`;
      setNotice(text);
      announce(text);
      setValue(""); // never kept in the page once written
      setName("");
      reload();
    } catch (error) {
      const fields = error instanceof ApiFailure ? error.fieldErrors() : {};
      if (fields["/value"]) setFieldErrors({ value: fields["/value"] });
      setFailure(error);
    }
  };

  const remove = async (credential: string) => {
    setFailure(null);
    try {
      await del(`/credentials/${encodeURIComponent(credential)}`);
      const text = `Credential ${credential} deleted.`;
      setNotice(text);
      announce(text);
      reload();
    } catch (error) {
      setFailure(error);
    }
  };

  return (
    <Section title="Credentials">
      <p class="help">
        Workflows read a credential as <code>$credential.NAME</code> (or <code>$credential.NAME.field</code> for a JSON
        object). Values are write-only: the runtime never sends one back.
      </p>
      <ErrorNote error={error} title="Credentials could not be listed" />
      {!list && !error && <Loading what="credentials" />}
      {list &&
        (list.items.length ? (
          <table>
            <caption class="sr-only">Stored credentials (names only)</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Created</th>
                <th scope="col">Updated</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {list.items.map((c) => (
                <tr key={c.name}>
                  <th scope="row" class="mono">
                    {c.name}
                  </th>
                  <td>{when(c.created_at)}</td>
                  <td>{when(c.updated_at)}</td>
                  <td>
                    <button type="button" class="secondary" onClick={() => setName(c.name)} aria-label={`Replace credential ${c.name}`}>
                      Replace
                    </button>{" "}
                    <button type="button" class="danger" onClick={() => remove(c.name)} aria-label={`Delete credential ${c.name}`}>
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <p>No credentials stored.</p>
        ))}
      <form class="credential-form" onSubmit={save} noValidate aria-labelledby="credential-form-title">
        <h3 id="credential-form-title">Store a credential</h3>
        <div class="field">
          <label for="credential-name">Credential name</label>
          <input
            id="credential-name"
            value={name}
            autoComplete="off"
            aria-invalid={fieldErrors.name ? "true" : undefined}
            aria-describedby={fieldErrors.name ? "credential-name-error" : undefined}
            onInput={(e) => setName((e.target as HTMLInputElement).value.trim())}
          />
          {fieldErrors.name && (
            <p class="field-error" id="credential-name-error" role="alert">
              {fieldErrors.name}
            </p>
          )}
        </div>
        <div class="field">
          <label for="credential-value">Credential value</label>
          <input
            id="credential-value"
            type="password"
            value={value}
            autoComplete="new-password"
            aria-invalid={fieldErrors.value ? "true" : undefined}
            aria-describedby={"credential-value-help" + (fieldErrors.value ? " credential-value-error" : "")}
            onInput={(e) => setValue((e.target as HTMLInputElement).value)}
          />
          <p class="help" id="credential-value-help">
            Sent once, sealed with the runtime's key; replacing a name overwrites its value.
          </p>
          {fieldErrors.value && (
            <p class="field-error" id="credential-value-error" role="alert">
              {fieldErrors.value}
            </p>
          )}
        </div>
        <div class="field">
          <label class="inline">
            <input type="checkbox" checked={asJson} onChange={(e) => setAsJson((e.target as HTMLInputElement).checked)} /> The
            value is a JSON object
          </label>
        </div>
        <button type="submit">Save credential</button>
      </form>
      <ErrorNote error={failure} title="The credential was not changed" />
      {notice && (
        <p class="ok-note" role="status">
          {notice}
        </p>
      )}
    </Section>
  );
}
