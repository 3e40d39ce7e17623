// Sign-in: the API token, exchanged for a session cookie (POST /ui/session).
import { useState } from "preact/hooks";
import { request, setCsrf } from "./api";
import { ErrorNote } from "./components/common";

export interface SessionInfo {
  signed_in: boolean;
  csrf_token?: string;
  expires_at?: number;
}

export async function currentSession(): Promise<SessionInfo> {
  const info = await request<SessionInfo>("GET", "/session", undefined, "/ui");
  setCsrf(info.signed_in ? info.csrf_token ?? null : null);
  return info;
}

export async function signOut(): Promise<void> {
  await request("DELETE", "/session", undefined, "/ui");
  setCsrf(null);
}

export function SignIn({ onSignedIn }: { onSignedIn: (info: SessionInfo) => void }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: Event) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const info = await request<SessionInfo>("POST", "/session", { token }, "/ui");
      setCsrf(info.csrf_token ?? null);
      onSignedIn(info);
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  }

  return (
    <main id="main" class="signin">
      <h1>Runtime Hub</h1>
      <form onSubmit={submit} aria-describedby="signin-help">
        <label for="token">API token</label>
        <input
          id="token"
          name="token"
          type="password"
          autoComplete="current-password"
          required
          value={token}
          onInput={(e) => setToken((e.target as HTMLInputElement).value)}
        />
        <p id="signin-help" class="help">
          The token <code>hub up</code> printed; it is kept in <code>HUB_HOME/api.token</code>.
        </p>
        <button type="submit" disabled={busy}>
          Sign in
        </button>
        <ErrorNote error={error} title="Sign-in failed" />
      </form>
    </main>
  );
}
