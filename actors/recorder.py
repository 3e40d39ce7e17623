"""The Recorder: the store's writer (but for what ExecutionActors write themselves: their runs'
steps, events and updates, settings.step_writes), and the source of live event streams."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Sequence
from datetime import datetime
from typing import Any

import ray

from actors._process import tune_process
from hub.analysis import ErrorPattern
from hub.errors import HubError, Superseded
from hub.history import (
    CredentialInfo,
    DeleteResult,
    ExecutionPage,
    ExecutionQuery,
    ExecutionStats,
    PerformanceReport,
    SavedInputs,
)
from hub.recording import EventWatch, GroupCommitter, Lease, RunnerLeases, commit_groups
from hub.records import (
    AuditEntry,
    Event,
    ExecutionRecord,
    LogEntry,
    Retention,
    StoreWrite,
    WorkflowRecord,
    utcnow,
)
from hub.store import Store


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)
class RecorderActor:
    def __init__(self, database_url: str, retention: Retention | None = None) -> None:
        tune_process()
        self.database_url = database_url
        self.store = Store(database_url)
        self.watch = EventWatch(self._latest_event_seqs)
        self.committer = GroupCommitter(self.store.apply, self.watch)
        self.leases = RunnerLeases()
        self.retention = retention or Retention()
        self.pruned = 0
        self.pruned_audit = 0
        self.started_at = utcnow()
        self.retention_task: asyncio.Task[None] | None = None
        if self.retention.active:
            self.retention_task = asyncio.get_running_loop().create_task(self._retain())

    async def _retain(self) -> None:
        """Prune history and the audit log now and then; in batches, on a worker thread, so
        runs never wait."""
        while True:
            with contextlib.suppress(Exception):  # a failed round is tried again next time
                await self.prune(self.retention.max_age_s, self.retention.max_executions)
            with contextlib.suppress(Exception):
                await self.prune_audit(self.retention.max_age_s, self.retention.max_executions)
            await asyncio.sleep(self.retention.interval_s)

    async def prune(self, max_age_s: float | None, max_count: int | None) -> int:
        removed = await asyncio.to_thread(
            lambda: self.store.prune(max_age_s=max_age_s, max_count=max_count)
        )
        if removed:
            await asyncio.to_thread(self.store.vacuum)
        self.pruned += removed
        return removed

    async def prune_audit(self, max_age_s: float | None, max_executions: int | None) -> int:
        """The audit log's share of retention (Store.prune_audit); returns entries deleted."""
        await self.committer.drain()  # entries queued before now are judged too
        removed = await asyncio.to_thread(
            lambda: self.store.prune_audit(max_age_s=max_age_s, max_executions=max_executions)
        )
        self.pruned_audit += removed
        return removed

    async def error_patterns(
        self, since: datetime | None = None, workflow_id: str | None = None
    ) -> list[ErrorPattern]:
        await self.committer.drain()
        return await asyncio.to_thread(
            lambda: self.store.error_patterns(since=since, workflow_id=workflow_id)
        )

    # The write calls are the runtime's plumbing, several per run: kept out of the dashboard's
    # task table (Ray's task events), which they would flood, and which costs time per call.
    @ray.method(enable_task_events=False)
    async def record(self, writes: Sequence[StoreWrite], lease: Lease | None = None) -> bool:
        """Queue writes without waiting for them (control-flow steps, events). False: refused,
        ``lease`` is not the execution's runner any more (hub.recording.RunnerLeases)."""
        if not self.leases.admits(lease, len(writes)):
            return False
        self.committer.submit(writes, wait=False)
        return True

    @ray.method(enable_task_events=False)
    async def commit(self, writes: Sequence[StoreWrite], lease: Lease | None = None) -> None:
        """Queue writes and return once they, and everything queued before, are durable;
        raise Superseded when ``lease`` is not the execution's runner any more."""
        if not self.leases.admits(lease, len(writes)):
            raise Superseded.of(lease[0] if lease else "?")
        future = self.committer.submit(writes, wait=True)
        assert future is not None
        await future

    async def claim_execution(self, execution_id: str, token: str) -> ExecutionRecord:
        """Make the runner with ``token`` the only one whose writes land for this execution,
        then read it (after every write queued before the claim): what a resume starts from.
        The claim is stored too: runners that write their records straight to the store
        (Store.commit_run) are fenced there, and a later read sees everything they stored."""
        self.leases.claim(execution_id, token)
        await self.committer.drain()
        await asyncio.to_thread(self.store.claim_runner, execution_id, token)
        return await self.get_execution(execution_id)

    @ray.method(enable_task_events=False)
    async def commit_groups(self, groups: Sequence[Sequence[StoreWrite]]) -> list[HubError | None]:
        """Commit several callers' writes in one call: each group is durable all or nothing,
        and fails alone (its error, a HubError, is in its place in the answer)."""
        return await commit_groups(self.committer, groups)

    async def _latest_event_seqs(self, execution_ids: list[str]) -> dict[str, int]:
        return await asyncio.to_thread(self.store.latest_event_seqs, execution_ids)

    async def events(self, execution_id: str, after_seq: int = 0, wait_s: float = 0) -> list[Event]:
        """Events after ``after_seq``; waits up to ``wait_s`` for new ones (long poll)."""

        def read_store(since: int) -> Awaitable[list[Event]]:
            return asyncio.to_thread(self.store.events_after, execution_id, since)

        return await self.watch.wait_after(execution_id, after_seq, wait_s, read_store)

    async def get_execution(self, execution_id: str) -> ExecutionRecord:
        await self.committer.drain()
        return await asyncio.to_thread(self.store.get_execution, execution_id)

    async def list_executions(self, **filters: Any) -> list[ExecutionRecord]:
        await self.committer.drain()
        return await asyncio.to_thread(lambda: self.store.list_executions(**filters))

    async def find_by_idempotency_key(self, key: str) -> ExecutionRecord | None:
        return await asyncio.to_thread(self.store.find_execution_by_idempotency_key, key)

    async def non_terminal_executions(self) -> list[ExecutionRecord]:
        await self.committer.drain()
        return await asyncio.to_thread(self.store.non_terminal_executions)

    async def logs(self, execution_id: str, **filters: Any) -> list[LogEntry]:
        await self.committer.drain()
        return await asyncio.to_thread(lambda: self.store.logs(execution_id, **filters))

    async def save_workflow(self, record: WorkflowRecord) -> None:
        await self.committer.drain()
        await asyncio.to_thread(self.store.save_workflow, record)

    async def get_workflow(self, workflow_id: str, version: str | None = None) -> WorkflowRecord:
        return await asyncio.to_thread(self.store.get_workflow, workflow_id, version)

    async def workflow_versions(self, workflow_id: str) -> list[str]:
        return await asyncio.to_thread(self.store.workflow_versions, workflow_id)

    async def list_workflows(self) -> list[WorkflowRecord]:
        return await asyncio.to_thread(self.store.list_workflows)

    async def delete_workflow(self, workflow_id: str, version: str | None = None) -> int:
        await self.committer.drain()
        return await asyncio.to_thread(self.store.delete_workflow, workflow_id, version)

    # --- history --------------------------------------------------------------------------------

    async def search_executions(self, query: ExecutionQuery) -> ExecutionPage:
        await self.committer.drain()
        return await asyncio.to_thread(self.store.search_executions, query)

    async def execution_stats(self, query: ExecutionQuery) -> ExecutionStats:
        await self.committer.drain()
        return await asyncio.to_thread(self.store.execution_stats, query)

    async def delete_executions(self, ids: Sequence[str]) -> DeleteResult:
        # Drained first: the last writes of an execution that just ended land before it goes.
        await self.committer.drain()
        return await asyncio.to_thread(self.store.delete_executions, list(ids))

    async def performance(
        self, workflow_id: str | None = None, since: datetime | None = None
    ) -> PerformanceReport:
        await self.committer.drain()
        return await asyncio.to_thread(
            lambda: self.store.performance(workflow_id=workflow_id, since=since)
        )

    # --- saved inputs, audit log, credentials, settings -----------------------------------------

    async def save_inputs(self, saved: SavedInputs) -> SavedInputs:
        return await asyncio.to_thread(self.store.save_inputs, saved)

    async def list_saved_inputs(self, workflow_id: str) -> list[SavedInputs]:
        return await asyncio.to_thread(self.store.list_saved_inputs, workflow_id)

    async def get_saved_inputs(self, id: str) -> SavedInputs:
        return await asyncio.to_thread(self.store.get_saved_inputs, id)

    async def delete_saved_inputs(self, id: str) -> None:
        await asyncio.to_thread(self.store.delete_saved_inputs, id)

    async def audit_entries(self, **filters: Any) -> list[AuditEntry]:
        """Newest first (see Store.audit_entries); entries are written with record/commit."""
        await self.committer.drain()
        return await asyncio.to_thread(lambda: self.store.audit_entries(**filters))

    async def set_credential(self, name: str, ciphertext: bytes) -> None:
        await asyncio.to_thread(self.store.set_credential, name, ciphertext)

    async def credential_names(self) -> list[CredentialInfo]:
        return await asyncio.to_thread(self.store.credential_names)

    async def get_credential(self, name: str) -> bytes:
        return await asyncio.to_thread(self.store.get_credential, name)

    async def credentials(self, names: list[str]) -> dict[str, bytes]:
        return await asyncio.to_thread(self.store.credentials, names)

    async def delete_credential(self, name: str) -> None:
        await asyncio.to_thread(self.store.delete_credential, name)

    async def get_setting(self, key: str, default: Any = None) -> Any:
        return await asyncio.to_thread(self.store.get_setting, key, default)

    async def set_setting(self, key: str, value: Any) -> None:
        await asyncio.to_thread(self.store.set_setting, key, value)

    async def trigger_states(self) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self.store.trigger_states)

    async def save_trigger_state(
        self, workflow_id: str, trigger_id: str, state: dict[str, Any]
    ) -> None:
        await asyncio.to_thread(self.store.save_trigger_state, workflow_id, trigger_id, state)

    async def set_trigger_enabled(
        self, workflow_id: str, trigger_id: str, enabled: bool | None
    ) -> None:
        await asyncio.to_thread(self.store.set_trigger_enabled, workflow_id, trigger_id, enabled)

    async def delete_trigger_states(self, workflow_id: str, keep: list[str]) -> int:
        return await asyncio.to_thread(self.store.delete_trigger_states, workflow_id, keep)

    async def flush(self) -> dict[str, Any]:
        await self.committer.drain()
        return {
            **self.committer.stats(),
            "pruned": self.pruned,
            "pruned_audit": self.pruned_audit,
            "superseded_writes": self.leases.refused,
        }

    async def ping(self) -> str:
        return self.store.url

    async def direct_store(self) -> tuple[str, str]:
        """The database URL and the Ray node this Recorder runs on: what a runner needs to tell
        whether it can write its steps to the store itself (hub.placement.runner_reaches_store)."""
        return self.database_url, str(ray.get_runtime_context().get_node_id())

    async def health(self) -> dict[str, Any]:
        """This process's start, and the store answering a real query (GET /health)."""
        return {"started_at": self.started_at, "store": self.store.dialect}

    async def check_database(self) -> dict[str, Any]:
        """Run a query on the store (not the write queue: a health check must not wait behind
        a large commit); raises StoreError when the database does not answer."""
        latency_ms = await asyncio.to_thread(self.store.check)
        return {"dialect": self.store.dialect, "latency_ms": latency_ms}


def start_recorder(
    database_url: str,
    retention: Retention,
    *,
    name: str,
    namespace: str,
    store_node_id: str | None,
) -> Any:
    """The runtime's Recorder: made once (detached, named), found by later calls. The driver
    that starts a runtime makes it beside the supervisor, so both processes start at once; the
    supervisor finds it (or makes it, after a restart)."""
    from actors._placement import actor_options
    from hub.placement import recorder_placement

    return RecorderActor.options(  # type: ignore[attr-defined]
        name=name,
        namespace=namespace,
        lifetime="detached",
        get_if_exists=True,
        max_concurrency=10_000,
        **actor_options(recorder_placement(database_url, store_node_id)),
    ).remote(database_url, retention)
