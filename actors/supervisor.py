"""The WorkflowSupervisor: registry, admission, leasing, lifecycle, retries and recovery.

Detached and restartable: when its process dies, Ray starts it again (``max_restarts``) and
retries the calls that were in flight (``max_task_retries``; every call here is safe to repeat).
A new incarnation first recovers: it reads the unfinished executions from the store and requeues,
resumes or (with ``recovery: fail`` after a runtime restart) fails them, per hub.lifecycle.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import ray
from ray.exceptions import ActorUnschedulableError, RayActorError

from actors._journal import CommitCoalescer, store_within_reach
from actors._lifecycle import LifecycleControl, remote
from actors._local_runs import SupervisorRuns
from actors._observe import Observability
from actors._placement import actor_options
from actors._process import tune_process
from actors._reprs import run_task_name
from actors._resources import ResourcePools
from actors._settings import SettingsControl
from actors._sleeping import Sleepers
from actors.execution import ExecutionActor, ExecutionHost, actor_key
from actors.recorder import start_recorder
from hub import lifecycle, sealing
from hub.admission import AdmissionQueue, SharedPool, WarmPool
from hub.compiler import compile_workflow
from hub.debugging import check_breakpoints
from hub.errors import HubError, NodeFamilyDisabled, NotFound, Superseded
from hub.lifecycle import RecoveryKind
from hub.lineage import link_child, slot_lender
from hub.local import new_execution
from hub.nodes import NodeTypeInfo, catalogue, default_registry
from hub.placement import execution_placement
from hub.plan import ExecutionPlan
from hub.recording import EventWatch, GroupCommitter, commit_groups
from hub.records import (
    AppendAudit,
    AppendEvent,
    AuditEntry,
    CreateExecution,
    ErrorInfo,
    Event,
    ExecutionRecord,
    ExecutionStatus,
    RunOptions,
    RunOrder,
    RunOutcome,
    StoreWrite,
    UpdateExecution,
    WorkflowRecord,
    utcnow,
)
from hub.sealing import open_inputs, seal_inputs
from hub.settings import RuntimeSettings, WorkflowOverrides, how_to_enable

if TYPE_CHECKING:
    from hub.triggers import Fire

# A run whose actor is lost for good (not restarted by Ray) is re-leased this many times.
MAX_RELEASES = 3
TRIGGERS_NAME = "triggers"  # the TriggerActor (actors/triggers.py)
TRIGGER_RELOAD_S = 10.0

logger = logging.getLogger(__name__)


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)
# SettingsControl comes first: its _definition_for implements LifecycleControl's declaration.
class SupervisorActor(SettingsControl, LifecycleControl, ResourcePools, Observability):
    def __init__(
        self,
        database_url: str,
        settings: RuntimeSettings,
        namespace: str,
        recorder_name: str,
        sealing_key: str | None = None,
        store_node_id: str | None = None,
    ) -> None:
        tune_process()
        self.started_at = utcnow()
        self.settings = settings
        self.started_settings = settings
        self.environment_settings = settings  # what `hub up` read: the gates' ceiling
        self.overrides: dict[str, WorkflowOverrides] = {}
        self._settings_of_runs = {}
        self._run_basis_of = None
        self.sealing_key = sealing_key
        self.namespace = namespace
        restarted = bool(ray.get_runtime_context().was_current_actor_reconstructed)
        self.incarnation = uuid.uuid4().hex[:4] + "." if restarted else ""
        self.recorder = start_recorder(
            database_url,
            settings.retention(),
            name=recorder_name,
            namespace=namespace,
            store_node_id=store_node_id,
        )
        # At most two commits in flight, so a run's start does not wait behind another run's
        # end. (One in flight made fewer calls, a few percent of CPU, and exposed a race since
        # fixed; CI then saw an unexplained extra queued run: back to two, bench/README.md.)
        self.commits = CommitCoalescer(self._commit_groups)
        # A run's last writes that its actor did not store itself: through the Recorder, whose
        # queue holds the run's earlier writes, so the end lands after them.
        self.end_commits = CommitCoalescer(
            lambda groups: remote(self.recorder.commit_groups.remote(groups))
        )
        self._store_writer: GroupCommitter | None = None
        self._store: Any = None  # opened here once, for this process's direct writes
        self._store_known = settings.step_writes != "direct"  # "recorder": never
        self._store_lock = asyncio.Lock()
        self.init_resources()
        self.prewarm_pools()
        limit = min(settings.max_concurrent_executions, settings.max_execution_actors)
        self.admission = AdmissionQueue(limit)
        self.actor_count = 0
        self.warm: WarmPool[Any] = WarmPool(
            settings.max_execution_actors, self._new_execution_actor
        )
        for _ in range(settings.warm_execution_actors):
            self.warm.idle.append(self._new_execution_actor())
        # The `shared` isolation mode (docs/dsl.md, "Isolation modes"): its own actors, made on
        # first use, and its own limit on runs at once.
        self.shared = SharedPool(
            settings.shared_execution_actors,
            lambda: self._new_execution_actor(shared=True),
            key=actor_key,
        )
        self.shared_admission = AdmissionQueue(settings.shared_max_executions)
        # The `auto` mode's runs of control nodes only: on this process's loop, no actor.
        self.local = SupervisorRuns(
            ExecutionHost(
                self.recorder,
                "supervisor",
                namespace,
                settings.journal_flush_ms,
                sealing_key,
                shared=True,
                step_writes=settings.step_writes,
                in_supervisor=True,
                open_store=self._own_store,
            )
        )
        self.local.prepare.remote()  # the store, opened before the first run needs it
        self.pending: dict[str, tuple[RunOrder, dict[str, Any]]] = {}
        self.sleepers = Sleepers(self._wake)  # runs parked in a long delay (hub.parking)
        self.running: dict[str, Any] = {}
        self.results: dict[str, asyncio.Future[ExecutionRecord]] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.workflows: dict[tuple[str, str | None], tuple[WorkflowRecord, ExecutionPlan]] = {}
        self.stopping = False
        self.recovered: dict[str, int] = {}
        self.init_observability()
        # Async actors run __init__ on their event loop: recovery starts now, and every call
        # that touches executions waits for it.
        self.recovery_reason = "supervisor_restart" if restarted else "runtime_restart"
        self.recovery = asyncio.get_running_loop().create_task(self._recover(self.recovery_reason))

    def _new_execution_actor(self, node_id: str | None = None, shared: bool = False) -> Any:
        self.actor_count += 1
        kind = "execution-shared" if shared else "execution"
        actor: Any = ExecutionActor.options(  # type: ignore[attr-defined]
            name=f"{kind}:{self.incarnation}{self.actor_count}",
            namespace=self.namespace,
            # A shared actor's runs and the control calls beside them: never the limit.
            max_concurrency=110_000 if shared else 1000,
            **actor_options(execution_placement(node_id)),
        ).remote(
            self.recorder,
            "supervisor",
            self.namespace,
            self.settings.journal_flush_ms,
            self.sealing_key,
            shared,
            self.started_settings.step_writes,
        )
        actor.prepare.remote()  # its store opens while it waits for its first run
        return actor

    async def _commit_groups(self, groups: list[Sequence[StoreWrite]]) -> list[HubError | None]:
        """Commit several runs' creations, each all or nothing: straight to the store when this
        process reaches it, as ExecutionActors do (settings.step_writes), else in one Recorder
        call."""
        writer = await self._direct_writer()
        if writer is not None:
            return await commit_groups(writer, groups)
        outcomes: list[HubError | None] = await remote(self.recorder.commit_groups.remote(groups))
        return outcomes

    async def _direct_writer(self) -> GroupCommitter | None:
        """The supervisor's own writer to the store, set up once: None when the store is out
        of its reach (hub.placement.runner_reaches_store) or cannot be opened here."""
        if self._store_writer is None:
            store = await self._own_store()
            if store is not None and self._store_writer is None:  # on its writer thread: a
                # busy SQLite file never blocks the loop
                self._store_writer = GroupCommitter(store.apply, EventWatch(), inline_max=0)
        return self._store_writer

    async def _own_store(self) -> Any:
        """The store opened in this process, once, for the creations it commits and the runs
        it carries (settings.step_writes "direct"): None when out of its reach."""
        if not self._store_known:
            async with self._store_lock:
                if not self._store_known:
                    self._store = await store_within_reach(self.recorder, logger)
                    self._store_known = True
        return self._store

    def _admission(self, order: RunOrder) -> AdmissionQueue:
        """The queue that admits ``order``: the shared mode has its own limit."""
        shares = order.shared or order.in_supervisor  # runs that share a process
        queue: AdmissionQueue = self.shared_admission if shares else self.admission
        return queue

    def _lease(self, order: RunOrder, lost: int) -> Any:
        """An ExecutionActor for ``order``. After a loss, a new exclusive actor that Ray places
        on a live node: an idle warm one may be pinned to the node that was just lost (until
        the next look at the nodes)."""
        if order.in_supervisor:
            return self.local
        if order.shared:
            return self.shared.lease()
        return self.warm.lease()[0] if lost == 0 else self._new_execution_actor()

    def _give_back(self, order: RunOrder, handle: Any, healthy: bool) -> None:
        if order.in_supervisor:
            return
        if order.shared:
            if healthy:
                self.shared.release(handle)
            elif self.shared.remove(handle):  # lost for good: its other runs re-lease too
                ray.kill(handle, no_restart=True)
        elif not healthy or not self.warm.release(handle):
            ray.kill(handle, no_restart=True)

    async def _ready(self) -> None:
        if self.recovery.done() and self.recovery.exception() is not None:
            # Recovery failed (say, the store was unreachable): this call says so, and the
            # next one tries again; executions already re-admitted are skipped then.
            failed = self.recovery.exception()
            self.recovery = asyncio.get_running_loop().create_task(
                self._recover(self.recovery_reason)
            )
            raise HubError(f"the runtime could not recover its unfinished executions: {failed}")
        await asyncio.shield(self.recovery)

    # --- recovery ---------------------------------------------------------------------------

    async def _recover(self, reason: str) -> None:
        await self._load_stored_settings()
        unfinished: list[ExecutionRecord] = await self.recorder.non_terminal_executions.remote()
        blocked: dict[str, str] = {}
        opened: dict[str, dict[str, Any]] = {}  # inputs with sealed secrets opened
        plans: dict[str, tuple[WorkflowRecord, ExecutionPlan]] = {}
        for record in unfinished:
            try:
                plans[record.id] = await self.workflow(record.workflow_id, record.workflow_version)
            except HubError as exc:
                blocked[record.id] = f"its workflow cannot be loaded ({exc})"
                continue
            try:
                opened[record.id] = open_inputs(record, plans[record.id][1], self.sealing_key)
            except HubError as exc:
                blocked[record.id] = f"it cannot resume: {exc}; re-run it with the inputs"
        steps = lifecycle.plan_recovery(
            unfinished, self.settings.recovery, unresumable=blocked, after=reason
        )
        for step in steps:
            record = step.execution
            if record.id in self.results:
                continue  # re-admitted by an earlier, interrupted try
            self.recovered[step.kind.value] = self.recovered.get(step.kind.value, 0) + 1
            if step.kind == RecoveryKind.FAIL:
                error = ErrorInfo(message=step.reason, category="interrupted")
                await self._end(record, record.inputs, ExecutionStatus.FAILED, error)
                continue
            workflow, _plan = plans[record.id]
            resume: str | None = reason if step.kind == RecoveryKind.RESUME else None
            if step.kind == RecoveryKind.REQUEUE and record.steps:
                resume = "retry"  # a queued retry, seeded with its parent's steps
            order = RunOrder(
                definition=self._definition_for(workflow, record),
                record=record.model_copy(update={"steps": [], "inputs": opened[record.id]}),
                families=sorted(self.settings.enabled_families()),
                env=self.settings.allowed_env(),
                options=RunOptions.model_validate(record.settings.get("options", {})),
                resume=resume,
                overrides=record.settings.get("overrides", {}),
                commit_each_step=self.settings.step_commit == "step",
            )
            self._admit(order, record.inputs, lender=slot_lender(record))

    # --- workflows --------------------------------------------------------------------------

    async def register(self, definition: dict[str, Any]) -> WorkflowRecord:
        result = compile_workflow(definition)
        plan = result.raise_for_errors()
        record = WorkflowRecord(
            id=plan.workflow_id,
            version=plan.version,
            name=plan.name,
            description=definition.get("description"),
            definition=definition,
            diagnostics=[d.to_dict() for d in result.diagnostics],
        )
        await self.recorder.save_workflow.remote(record)
        self.workflows[(plan.workflow_id, plan.version)] = (record, plan)
        self.workflows.pop((plan.workflow_id, None), None)  # "latest" may have changed
        await self.triggers_changed()
        return record

    async def triggers_changed(self) -> None:
        """Have the TriggerActor load the triggers again (a workflow was registered or
        deleted). It also reloads at each start: a missed call only delays the change."""
        try:
            triggers = ray.get_actor(TRIGGERS_NAME, namespace=self.namespace)
            await asyncio.wait_for(triggers.reload.remote(), timeout=TRIGGER_RELOAD_S)
        except Exception as exc:  # not started (a bare runtime in tests), or restarting
            logger.info("triggers not reloaded: %s", exc)

    async def workflow(
        self, workflow_id: str, version: str | None
    ) -> tuple[WorkflowRecord, ExecutionPlan]:
        cached = self.workflows.get((workflow_id, version))
        if cached is None:
            record = await remote(self.recorder.get_workflow.remote(workflow_id, version))
            cached = (record, compile_workflow(record.definition).raise_for_errors())
            self.workflows[(workflow_id, version)] = cached
        return cached

    # --- runs -------------------------------------------------------------------------------

    async def submit(
        self,
        workflow_id: str,
        inputs: dict[str, Any],
        *,
        version: str | None = None,
        trigger: str = "api",
        idempotency_key: str | None = None,
        execution_id: str | None = None,
        options: RunOptions | dict[str, Any] | None = None,
        audit: AuditEntry | None = None,
        trigger_info: dict[str, Any] | None = None,
        parent: dict[str, Any] | None = None,
    ) -> ExecutionRecord:
        """Validate and durably record a run, then start or queue it.

        ``execution_id`` (chosen by the client) makes a repeated call, say one Ray retries after
        a supervisor restart, return the execution the first call created. ``audit`` (the API's
        entry for this start) is committed with the execution, never for a replayed start.
        ``parent`` makes it a sub-workflow of a workflow node's execution (hub.nodes._workflow):
        {"id", "node_id", "depth", "waits"}.
        """
        await self._ready()
        self._check_open()
        workflow, plan = await self.workflow(workflow_id, version)
        self.check_families(plan)
        run_options = RunOptions.model_validate(options or {})
        check_breakpoints(run_options.breakpoints, plan.nodes)
        # A repeated key is found when its insert is refused by the key's unique index (below):
        # no lookup before, which would cost every keyed start a round trip to the store.
        record, validated = new_execution(plan, inputs, trigger=trigger, execution_id=execution_id)
        record.idempotency_key = idempotency_key
        record.trigger_info = trigger_info
        effective, effective_json, definition, digest = self._run_settings(workflow)
        families, env, node_defaults = self._run_basis()
        if effective.log_level != "debug" and run_options.log_level is None:
            run_options = run_options.model_copy(update={"log_level": effective.log_level})
        record.settings = {"enabled_families": list(families), "effective": effective_json}
        if run_options != RunOptions():
            record.settings["options"] = run_options.model_dump(mode="json")
        sealed = seal_inputs(plan, validated, self.sealing_key)
        if sealed is not None:
            record.settings[sealing.SETTING] = sealed
        if parent is not None:
            link_child(record, parent, self.settings.max_workflow_depth)
        writes: list[StoreWrite] = [CreateExecution(record=record)]
        if audit is not None:
            writes.append(AppendAudit(entry=audit))
        try:
            await self.commits.commit(writes)
        except HubError:
            # A concurrent start with the same key or id won the race: answer with its record.
            existing = await self._existing(execution_id, idempotency_key)
            if existing is None:
                raise
            return existing
        order = RunOrder(
            definition=definition,
            definition_digest=digest,
            record=record.model_copy(update={"inputs": validated}),
            families=families,
            env=env,
            options=run_options,
            commit_each_step=self.settings.step_commit == "step",
            park_delay_s=self.settings.park_delay_s,
            node_defaults=node_defaults,
        )
        self._admit(order, record.inputs, lender=slot_lender(record))
        return record

    async def submit_fires(self, fires: Sequence[Fire]) -> list[ExecutionRecord | HubError]:
        """``submit`` for a batch of trigger fires (an AMQP consumer's messages), their commits
        shipped together: each answer is the fire's record or the HubError that refused it."""
        return list(await asyncio.gather(*(self._submit_fire(fire) for fire in fires)))

    async def _submit_fire(self, fire: Fire) -> ExecutionRecord | HubError:
        try:
            return await self.submit(
                fire.workflow_id,
                fire.inputs,
                trigger=fire.kind,
                idempotency_key=fire.idempotency_key,
                trigger_info=fire.info,
            )
        except HubError as exc:
            return exc
        except Exception as exc:  # the store or an actor away: a generic error, tried again
            return HubError(f"the start failed: {type(exc).__name__}: {exc}")

    async def _existing(
        self, execution_id: str | None, idempotency_key: str | None
    ) -> ExecutionRecord | None:
        if idempotency_key:
            found: ExecutionRecord | None = await self.recorder.find_by_idempotency_key.remote(
                idempotency_key
            )
            if found is not None:
                return found
        if execution_id:
            try:
                record: ExecutionRecord = await remote(
                    self.recorder.get_execution.remote(execution_id)
                )
            except NotFound:
                return None
            return record if record.id == execution_id else None
        return None

    async def run(
        self, workflow_id: str, inputs: dict[str, Any], **options: Any
    ) -> ExecutionRecord:
        """Submit and wait for the end: one round trip for a synchronous run."""
        record = await self.submit(workflow_id, inputs, **options)
        return await self.wait(record.id)

    def check_families(self, plan: ExecutionPlan) -> None:
        enabled = self.settings.enabled_families()
        for node in plan.nodes.values():
            for kind, what in ((node.node_type, "a"), (node.item_type, "a foreach running")):
                family = kind.family if kind is not None else None
                if family and family not in enabled and not node.spec.disabled:
                    by_api = family in self.environment_settings.enabled_families()
                    raise NodeFamilyDisabled(
                        f"node {node.id!r} is {what} {family} node and {family} nodes are "
                        f"disabled; {how_to_enable(family, closed_by_api=by_api)}"
                    )

    def _check_open(self) -> None:
        if self.stopping:
            raise HubError("the runtime is stopping; start it again with `hub up`")

    def _admit(
        self, order: RunOrder, redacted_inputs: dict[str, Any], lender: str | None = None
    ) -> None:
        """Start ``order`` now or queue it. ``lender``: the parent that waits for this child and
        lends it its slot (hub.admission.AdmissionQueue.lend: a runtime full of waiting parents
        would otherwise never start their children)."""
        execution_id = order.record.id
        self.pending[execution_id] = (order, redacted_inputs)
        self.results.setdefault(execution_id, asyncio.get_running_loop().create_future())
        queue = self._admission(order)
        if queue.lend(execution_id, lender) if lender else queue.submit(execution_id):
            self._start(execution_id)

    def _start(self, execution_id: str) -> None:
        task = asyncio.get_running_loop().create_task(self._drive(execution_id))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _drive(self, execution_id: str) -> None:
        order, redacted = self.pending.pop(execution_id)
        # The settings as they are now: a change through the settings API applies to the next
        # run, and to one queued before it.
        _families, _env, node_defaults = self._run_basis()
        park_delay_s = self.settings.park_delay_s
        if order.park_delay_s != park_delay_s or order.node_defaults != node_defaults:
            order = order.model_copy(
                update={"park_delay_s": park_delay_s, "node_defaults": node_defaults}
            )
        result: ExecutionRecord | None = None
        parked = False
        for lease in range(MAX_RELEASES + 1):
            handle = self._lease(order, lease)
            self.running[execution_id] = handle
            healthy = True
            try:
                # The run's task names its workflow and execution: the dashboard lists it by
                # that name on the actor (`execution:<n>`, leased again and again) that ran it.
                call = handle.run.options(name=run_task_name(order.record))
                outcome: RunOutcome = await call.remote(order)
                if outcome.writes:  # the end is durable before anyone hears of it
                    await self.end_commits.commit(outcome.writes)
                if outcome.parked is not None:  # sleeping in a delay: resumed when it is due
                    self.sleepers.add(execution_id, order, redacted, outcome.parked)
                    parked = True
                    break
                result = outcome.record
                result.inputs = redacted
                self.metrics.execution_ended(result.workflow_id, result.status)
            except (RayActorError, ActorUnschedulableError) as exc:
                # Ray restarts a dead ExecutionActor by itself; this actor is gone for good
                # (its node died, or it was killed, or it was pinned to a node that is gone):
                # resume on another one.
                healthy = False
                if lease < MAX_RELEASES:
                    order = order.model_copy(update={"resume": "actor_lost"})
                    continue
                error = ErrorInfo(
                    message=f"the execution's actor was lost {lease + 1} times: "
                    f"{exc.__class__.__name__}",
                    category="interrupted",
                )
                result = await self._end(order.record, redacted, ExecutionStatus.FAILED, error)
            except Superseded:
                # Another runner resumed the execution (a second lease presumed this one
                # lost): the end is its to record; report the one the store holds then.
                result = await self._stored_end(execution_id)
            except Exception as exc:
                error = ErrorInfo(message=f"runtime error: {exc}", category="node_error")
                result = await self._end(order.record, redacted, ExecutionStatus.FAILED, error)
            finally:
                self.running.pop(execution_id, None)
                self._give_back(order, handle, healthy)
            break
        if not parked:
            future = self.results.pop(execution_id, None)
            if future is not None and not future.done() and result is not None:
                future.set_result(result)
        for next_id in self._admission(order).finished(execution_id):
            self._start(next_id)

    def _wake(self, execution_id: str) -> None:
        """A parked execution's delay is due: admit it again; it resumes from the store."""
        sleeper = self.sleepers.take(execution_id)
        if sleeper is None or self.stopping:
            return  # cancelled meanwhile, or the runtime stops: recovery resumes it
        self._admit(
            sleeper.order.model_copy(update={"resume": "delay_due"}), sleeper.redacted_inputs
        )

    async def _stored_end(self, execution_id: str, every_s: float = 0.5) -> ExecutionRecord:
        while True:
            record: ExecutionRecord = await self.recorder.get_execution.remote(execution_id)
            if record.status.terminal:
                return record
            await asyncio.sleep(every_s)

    async def _end(
        self,
        record: ExecutionRecord,
        redacted_inputs: dict[str, Any],
        status: ExecutionStatus,
        error: ErrorInfo | None,
    ) -> ExecutionRecord:
        now = utcnow()
        data: dict[str, Any] = {"status": status.value}
        if error is not None:
            data["error"] = error.model_dump()
        await self.recorder.commit.remote(
            [
                UpdateExecution(execution_id=record.id, status=status, ended_at=now, error=error),
                AppendEvent(
                    event=Event(execution_id=record.id, type=f"execution_{status.value}", data=data)
                ),
            ]
        )
        self.metrics.execution_ended(record.workflow_id, status)
        return record.model_copy(
            update={"status": status, "error": error, "ended_at": now, "inputs": redacted_inputs}
        )

    async def wait(self, execution_id: str, timeout_s: float | None = None) -> ExecutionRecord:
        await self._ready()
        future = self.results.get(execution_id)
        if future is not None:
            return await asyncio.wait_for(asyncio.shield(future), timeout_s)
        record: ExecutionRecord = await remote(self.recorder.get_execution.remote(execution_id))
        return record

    # --- introspection ----------------------------------------------------------------------

    async def shutdown(self, cancel_runs: bool = False) -> dict[str, int]:
        """Stop admitting runs, then either cancel what runs or (the default) suspend it: its
        records are flushed and it resumes when the runtime starts again."""
        await self._ready()
        self.stopping = True
        suspended = cancelled = 0
        for execution_id in list(self.sleepers.entries):
            if cancel_runs:  # parked runs are cancelled too; otherwise they resume at the start
                cancelled += bool(await self.cancel(execution_id, "runtime stopped"))
            else:
                self.sleepers.take(execution_id)
        for execution_id, handle in list(self.running.items()):
            try:
                if cancel_runs:
                    cancelled += bool(await handle.cancel.remote(execution_id, "runtime stopped"))
                else:
                    suspended += bool(await handle.suspend.remote(execution_id))
            except RayActorError:
                continue
        if cancel_runs and self.tasks:
            await asyncio.wait(self.tasks, timeout=10)
        if self._desktop is not None:
            await self._desktop.shutdown.remote()
        await self.recorder.flush.remote()
        return {"suspended": suspended, "cancelled": cancelled, "queued": len(self.pending)}

    async def where(self) -> dict[str, Any]:
        """This supervisor's process, and where each running execution's actor is."""
        running = list(self.running.items())
        leases = await asyncio.gather(
            *(h.where.remote() for _, h in running), return_exceptions=True
        )
        return {
            "pid": os.getpid(),
            "incarnation": self.incarnation or "first",
            "executions": {
                execution_id: lease
                for (execution_id, _), lease in zip(running, leases, strict=True)
                if isinstance(lease, dict)
            },
        }

    async def node_types(self) -> list[NodeTypeInfo]:
        """Every node type this runtime knows (built-in and plugins), whether its family is
        enabled now, and its parameters' JSON Schema (hub nodes, GET /api/v1/node-types)."""
        return catalogue(default_registry(), self.settings.enabled_families())

    async def ping(self) -> bool:
        return True

    async def health(self) -> dict[str, Any]:
        """When this incarnation started, and whether it is still recovering (GET /health)."""
        return {
            "started_at": self.started_at,
            "incarnation": self.incarnation or "first",
            "recovering": not self.recovery.done(),
        }
