"""Human-readable terminal output for the CLI (rich)."""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from hub.compiler import Diagnostic
from hub.loops import parse_item_id
from hub.records import Event, ExecutionRecord, LogEntry, StepRecord

out = Console(highlight=False, soft_wrap=True, emoji=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)

_STATUS_STYLE = {
    "completed": "green",
    "failed": "red",
    "cancelled": "yellow",
    "running": "cyan",
    "queued": "blue",
    "paused": "magenta",
    "skipped": "dim",
}


def _status(value: str) -> str:
    return f"[{_STATUS_STYLE.get(value, 'white')}]{value}[/]"


def _short(value: Any, limit: int = 100) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return escape(text if len(text) <= limit else text[: limit - 1] + "…")


def escape_all(value: Any) -> Any:
    """Escape rich markup in every string of a JSON value (user text is never markup)."""
    if isinstance(value, str):
        return escape(value)
    if isinstance(value, dict):
        return {k: escape_all(v) for k, v in value.items()}
    if isinstance(value, list):
        return [escape_all(v) for v in value]
    return value


def print_diagnostics(source: str, diagnostics: list[Diagnostic], *, ok: bool) -> None:
    for d in diagnostics:
        colour = "red" if d.severity == "error" else "yellow"
        hint = f" (suggestion: {d.suggestion})" if d.suggestion else ""
        where = escape(f"{source}:{d.path or '/'}:")
        text = escape(f"[{d.code}] {d.message}{hint}")
        out.print(f"{where} [{colour}]{d.severity}[/] {text}")
    name = escape(source)
    out.print(f"[green]{name} is valid[/]" if ok else f"[red]{name} is invalid[/]")


class RunDisplay:
    """Live per-step progress of one run: a line per step event."""

    def __init__(self) -> None:
        self.console = out
        self.interactive = sys.stdout.isatty()
        self.console_url: str | None = None

    def starting(self) -> None:
        if self.interactive:
            self.console.print("[dim]connecting to the runtime…[/]")

    def connected(self, client: Any) -> None:
        where = "embedded runtime (stops when this command ends)" if client.embedded else "runtime"
        self.console.print(f"[dim]{where}; dashboard: {client.dashboard_url or 'unavailable'}[/]")
        if client.api_url:
            self.console.print(f"[dim]http api: {client.api_url} (token in HUB_HOME/api.token)[/]")
            self.console.print(f"[dim]web console: {client.console_url}[/]")
        elif client.embedded:
            self.console.print("[dim]http api and web console: started if the run lasts[/]")
        self.console_url = client.console_url

    def api_ready(self, client: Any, execution_id: str) -> None:
        """The embedded runtime's API came up while the run goes on (hub run, lazily)."""
        self.console_url = client.console_url
        self.console.print(f"[dim]http api: {client.api_url} (token in HUB_HOME/api.token)[/]")
        self.console.print(f"[dim]watch it live: {self.console_url}/executions/{execution_id}[/]")

    def started(self, record: ExecutionRecord) -> None:
        self.console.print(
            f"execution [bold]{record.id}[/] of {record.workflow_id} "
            f"v{record.workflow_version}: {_status(record.status.value)}"
        )
        if self.console_url:
            self.console.print(f"[dim]watch it live: {self.console_url}/executions/{record.id}[/]")

    def event(self, event: Event) -> None:
        data, node = escape_all(event.data), escape(event.node_id or "")
        if event.type == "step_started":
            attempt = data.get("attempt", 1)
            suffix = f" (attempt {attempt})" if attempt > 1 else ""
            self.console.print(f"  [cyan]▶[/] {node} [dim]{data.get('type', '')}[/]{suffix}")
        elif event.type == "step_completed":
            port = f" → {data['port']}" if data.get("port") else ""
            self.console.print(
                f"  [green]✓[/] {node}{port} [dim]{data.get('duration_ms', 0)} ms[/]"
            )
        elif event.type == "step_failed":
            error = data.get("error", {})
            self.console.print(
                f"  [red]✗[/] {node}: {error.get('message')} "
                f"[dim]({error.get('category')}, on_error={data.get('on_error')})[/]"
            )
        elif event.type == "step_retrying":
            self.console.print(
                f"  [yellow]↻[/] {node}: {data.get('error')} — retry in {data.get('delay_s')}s"
            )
        elif event.type == "step_skipped":
            self.console.print(f"  [dim]- {node} skipped ({data.get('reason')})[/]")
        elif event.type == "step_cancelled":
            self.console.print(f"  [yellow]■[/] {node} cancelled")
        elif event.type == "log":
            self.console.print(
                f"  [dim]{data.get('level', 'info')}[/] {node}: {data.get('message')}"
            )

    def finished(self, record: ExecutionRecord) -> None:
        duration = ""
        if record.started_at and record.ended_at:
            duration = f" in {(record.ended_at - record.started_at).total_seconds() * 1000:.0f} ms"
        self.console.print(f"{_status(record.status.value)}{duration}")
        if record.error:
            self.console.print(
                f"[red]error[/] ({record.error.category}"
                f"{', node ' + record.error.node_id if record.error.node_id else ''}): "
                f"{escape(record.error.message)}"
            )
            _print_suggestions(self.console, record)
        if record.outputs:
            self.console.print("outputs:")
            for node_id, output in record.outputs.items():
                self.console.print(f"  {node_id}: {_short(output)}")
        self.console.print(f"[dim]history: hub show {record.id[:12]}[/]")


def print_executions(records: list[ExecutionRecord]) -> None:
    if not records:
        out.print("no executions yet")
        return
    table = Table(box=None, pad_edge=False)
    for column in ("id", "workflow", "status", "started", "duration", "error"):
        table.add_column(column)
    for r in records:
        duration = (
            f"{(r.ended_at - r.started_at).total_seconds() * 1000:.0f} ms"
            if r.started_at and r.ended_at
            else ""
        )
        table.add_row(
            r.id[:12],
            f"{r.workflow_id} v{r.workflow_version}",
            _status(r.status.value),
            r.started_at.strftime("%Y-%m-%d %H:%M:%S") if r.started_at else "",
            duration,
            _short(r.error.message, 60) if r.error else "",
        )
    out.print(table)


def print_execution(record: ExecutionRecord, children: Sequence[ExecutionRecord] = ()) -> None:
    out.print(
        f"[bold]{record.id}[/]  {record.workflow_id} v{record.workflow_version}  "
        f"{_status(record.status.value)}  trigger={record.trigger}"
    )
    out.print(f"inputs: {_short(record.inputs, 200)}")
    if record.parent_id:
        origin = record.settings.get("origin", {}).get("kind", "retry")
        out.print(f"{origin} of: {record.parent_id}")
    for child in children[:MAX_CHILDREN_SHOWN]:
        kind = child.settings.get("origin", {}).get("kind", "retry")
        step = child.settings.get("origin", {}).get("node_id")
        via = f" (step {step})" if step and kind == "subworkflow" else ""
        out.print(f"{kind}: {child.id} {child.workflow_id} {_status(child.status.value)}{via}")
    if len(children) > MAX_CHILDREN_SHOWN:
        more = len(children) - MAX_CHILDREN_SHOWN
        out.print(f"… and {more} more children (hub show {record.id[:12]} --json lists them)")
    if record.error:
        out.print(f"[red]error[/] ({record.error.category}): {escape(record.error.message)}")
        _print_suggestions(out, record)
    table = Table(box=None, pad_edge=False)
    for column in ("step", "type", "status", "attempts", "duration", "output / error"):
        table.add_column(column)
    for s in _folded(record.steps):
        if isinstance(s, str):
            table.add_row(s, "", "", "", "", "")
            continue
        detail = f"[red]{escape(s.error.message)}[/]" if s.error else _short(s.output, 80)
        duration = f"{s.duration_ms} ms" if s.duration_ms is not None else ""
        table.add_row(
            s.node_id, s.node_type, _status(s.status.value), str(s.attempts), duration, detail
        )
    out.print(table)


MAX_CHILDREN_SHOWN = 20
MAX_ITEMS_SHOWN = 10


def _folded(steps: Sequence[StepRecord]) -> list[StepRecord | str]:
    """Steps for the table, a foreach's item rows (``each[3]``) folded: one line counting them
    by status after their foreach, and the failed ones (at most MAX_ITEMS_SHOWN) in full."""
    items: dict[str, list[StepRecord]] = {}
    rows: list[StepRecord | str] = []
    for step in steps:
        parsed = parse_item_id(step.node_id)
        if parsed is None:
            rows.append(step)
        else:
            items.setdefault(parsed[0], []).append(step)
    for owner, found in items.items():
        owner_at = (i for i, r in enumerate(rows) if getattr(r, "node_id", "") == owner)
        at = next(owner_at, len(rows) - 1) + 1
        counts = Counter(r.status.value for r in found)
        summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        failed = [r for r in found if r.error is not None][:MAX_ITEMS_SHOWN]
        folded: list[StepRecord | str] = [f"  {owner}[…] items: {summary}", *failed]
        rows[at:at] = folded
    return rows


def _print_suggestions(console: Console, record: ExecutionRecord) -> None:
    from hub.analysis import suggestions

    if record.error is None:
        return
    for line in suggestions(record.error.category):
        console.print(f"  [dim]→ {escape(line)}[/]")
    if record.status.value in ("failed", "cancelled"):
        console.print(
            f"  [dim]→ hub retry {record.id[:12]} (from the failed step), "
            f"hub rerun {record.id[:12]} (from the start)[/]"
        )


def print_log(entry: LogEntry) -> None:
    out.print(
        f"{entry.ts.strftime('%H:%M:%S.%f')[:-3]} {entry.level:5} "
        f"{entry.node_id or '-'}: {escape(entry.message)}"
    )
