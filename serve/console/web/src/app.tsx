// The console's shell: sign-in gate, navigation, routes (under /ui), the live region.
import { useEffect, useState } from "preact/hooks";
import { Link, Redirect, Route, Router, Switch, useLocation } from "wouter-preact";
import { whenSignedOut } from "./api";
import { announce } from "./components/common";
import { ErrorPatterns } from "./screens/errors";
import { ExecutionPage } from "./screens/execution";
import { History } from "./screens/history";
import { Performance } from "./screens/performance";
import { RunForm } from "./screens/runform";
import { Settings } from "./screens/settings";
import { WorkflowEditor, WorkflowList } from "./screens/workflows";
import { currentSession, type SessionInfo, SignIn, signOut } from "./signin";

const NAV: Array<[string, string]> = [
  ["/workflows", "Workflows"],
  ["/executions", "Executions"],
  ["/errors", "Errors"],
  ["/performance", "Performance"],
  ["/settings", "Settings"],
];

function NavLink({ href, label }: { href: string; label: string }) {
  const [location] = useLocation();
  const current = location === href || location.startsWith(href + "/");
  return (
    <Link href={href} aria-current={current ? "page" : undefined} class={current ? "current" : ""}>
      {label}
    </Link>
  );
}

function Shell({ onSignOut }: { onSignOut: () => void }) {
  const [location] = useLocation();
  useEffect(() => {
    // A new screen: move focus to its content so keyboard and screen-reader users start there.
    document.getElementById("main")?.focus({ preventScroll: true });
  }, [location]);
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">Runtime Hub</span>
        <nav aria-label="Main">
          {NAV.map(([href, label]) => (
            <NavLink key={href} href={href} label={label} />
          ))}
        </nav>
        <button type="button" class="link" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        <Switch>
          <Route path="/">
            <Redirect to="/workflows" replace />
          </Route>
          <Route path="/workflows" component={WorkflowList} />
          <Route path="/workflows/new">{() => <WorkflowEditor workflowId={null} />}</Route>
          <Route path="/workflows/:id/run">{(p: { id: string }) => <RunForm workflowId={p.id} />}</Route>
          <Route path="/workflows/:id">{(p: { id: string }) => <WorkflowEditor workflowId={p.id} />}</Route>
          <Route path="/executions" component={History} />
          <Route path="/executions/:id">{(p: { id: string }) => <ExecutionPage executionId={p.id} />}</Route>
          <Route path="/errors" component={ErrorPatterns} />
          <Route path="/performance" component={Performance} />
          <Route path="/settings" component={Settings} />
          <Route>
            <h1>Not found</h1>
            <p>
              No console page here. <Link href="/workflows">Go to the workflows</Link>.
            </p>
          </Route>
        </Switch>
      </main>
    </>
  );
}

export function App() {
  const [session, setSession] = useState<SessionInfo | null>(null);
  useEffect(() => {
    whenSignedOut(() => setSession({ signed_in: false }));
    currentSession().then(setSession, () => setSession({ signed_in: false }));
  }, []);

  let body;
  if (session === null) body = <p role="status">Loading…</p>;
  else if (!session.signed_in)
    body = (
      <SignIn
        onSignedIn={(info) => {
          setSession(info);
          announce("Signed in");
        }}
      />
    );
  else
    body = (
      <Router base="/ui">
        <Shell
          onSignOut={() => {
            signOut().finally(() => setSession({ signed_in: false }));
          }}
        />
      </Router>
    );
  return (
    <>
      {body}
      <div id="announcer" class="sr-only" aria-live="polite" aria-atomic="true"></div>
    </>
  );
}
