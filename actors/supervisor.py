"""The WorkflowSupervisor: registry, admission, leasing, node pools, cancellation."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import ray
from ray.exceptions import RayActorError

from actors._process import tune_process
from actors.desktop import DesktopActor
from actors.execution import ExecutionActor
from actors.node_pool import NodeActor
from actors.ocr import OcrActor
from actors.recorder import RecorderActor
from hub.admission import AdmissionQueue, WarmPool
from hub.compiler import compile_workflow
from hub.errors import HubError, IllegalTransition, NodeFamilyDisabled, NotFound
from hub.local import new_execution
from hub.nodes import default_registry
from hub.plan import ExecutionPlan
from hub.records import (
    AppendEvent,
    CreateExecution,
    ErrorInfo,
    Event,
    ExecutionRecord,
    ExecutionStatus,
    UpdateExecution,
    WorkflowRecord,
    utcnow,
)
from hub.settings import RuntimeSettings, how_to_enable


@dataclass
class _Pending:
    definition: dict[str, Any]
    record: ExecutionRecord  # inputs are the validated values, not the redacted ones
    redacted_inputs: dict[str, Any]


def _actor_id(handle: Any) -> str:
    return str(handle._actor_id.hex())


@ray.remote(num_cpus=0)
class SupervisorActor:
    def __init__(
        self, database_url: str, settings: RuntimeSettings, namespace: str, recorder_name: str
    ) -> None:
        tune_process()
        self.settings = settings
        self.namespace = namespace
        self.recorder = RecorderActor.options(  # type: ignore[attr-defined]
            name=recorder_name,
            namespace=namespace,
            lifetime="detached",
            get_if_exists=True,
            max_concurrency=10_000,
        ).remote(database_url)
        limit = min(settings.max_concurrent_executions, settings.max_execution_actors)
        self.admission = AdmissionQueue(limit)
        self.actor_count = 0
        self.warm: WarmPool[Any] = WarmPool(
            settings.max_execution_actors, self._new_execution_actor
        )
        for _ in range(settings.warm_execution_actors):
            self.warm.idle.append(self._new_execution_actor())
        self.pending: dict[str, _Pending] = {}
        self.running: dict[str, Any] = {}
        self.results: dict[str, asyncio.Future[ExecutionRecord]] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.workflows: dict[tuple[str, str | None], tuple[WorkflowRecord, ExecutionPlan]] = {}
        self.pools: dict[str, list[Any]] = {}
        self._desktop: Any = None
        self._ocr: dict[tuple[str, float], Any] = {}
        self.pool_counter: dict[str, int] = {}

    def _new_execution_actor(self) -> Any:
        self.actor_count += 1
        return ExecutionActor.options(  # type: ignore[attr-defined]
            name=f"execution:{self.actor_count}", namespace=self.namespace, max_concurrency=1000
        ).remote(self.recorder, "supervisor", self.namespace, self.settings.journal_flush_ms)

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
        return record

    async def workflow(
        self, workflow_id: str, version: str | None
    ) -> tuple[WorkflowRecord, ExecutionPlan]:
        cached = self.workflows.get((workflow_id, version))
        if cached is None:
            record = await self.recorder.get_workflow.remote(workflow_id, version)
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
    ) -> ExecutionRecord:
        """Validate and durably record a run, then start or queue it."""
        workflow, plan = await self.workflow(workflow_id, version)
        self.check_families(plan)
        if idempotency_key:
            existing = await self.recorder.find_by_idempotency_key.remote(idempotency_key)
            if existing is not None:
                return existing  # type: ignore[no-any-return]
        record, validated = new_execution(plan, inputs, trigger=trigger)
        record.idempotency_key = idempotency_key
        record.settings = {"enabled_families": sorted(self.settings.enabled_families())}
        await self.recorder.commit.remote([CreateExecution(record=record)])
        runnable = record.model_copy(update={"inputs": validated})
        self.pending[record.id] = _Pending(workflow.definition, runnable, record.inputs)
        self.results[record.id] = asyncio.get_running_loop().create_future()
        if self.admission.submit(record.id):
            self._start(record.id)
        return record

    async def run(
        self, workflow_id: str, inputs: dict[str, Any], **options: Any
    ) -> ExecutionRecord:
        """Submit and wait for the end: one round trip for a synchronous run."""
        record = await self.submit(workflow_id, inputs, **options)
        return await self.wait(record.id)

    def check_families(self, plan: ExecutionPlan) -> None:
        enabled = self.settings.enabled_families()
        for node in plan.nodes.values():
            family = node.node_type.family
            if family and family not in enabled and not node.spec.disabled:
                raise NodeFamilyDisabled(
                    f"node {node.id!r} is a {family} node and {family} nodes are disabled; "
                    f"{how_to_enable(family)} before starting the runtime"
                )

    def _start(self, execution_id: str) -> None:
        task = asyncio.get_running_loop().create_task(self._drive(execution_id))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _drive(self, execution_id: str) -> None:
        pending = self.pending.pop(execution_id)
        handle, _warm = self.warm.lease()
        self.running[execution_id] = handle
        healthy = True
        try:
            result: ExecutionRecord = await handle.run.remote(
                pending.definition,
                pending.record,
                sorted(self.settings.enabled_families()),
                self.settings.allowed_env(),
            )
            result.inputs = pending.redacted_inputs
        except RayActorError as exc:
            healthy = False
            result = await self._end(
                pending.record,
                pending.redacted_inputs,
                ExecutionStatus.FAILED,
                ErrorInfo(
                    message=f"the execution's actor died: {exc.__class__.__name__}",
                    category="interrupted",
                ),
            )
        except Exception as exc:
            result = await self._end(
                pending.record,
                pending.redacted_inputs,
                ExecutionStatus.FAILED,
                ErrorInfo(message=f"runtime error: {exc}", category="node_error"),
            )
        finally:
            self.running.pop(execution_id, None)
        if not healthy or not self.warm.release(handle):
            ray.kill(handle, no_restart=True)
        future = self.results.pop(execution_id, None)
        if future is not None and not future.done():
            future.set_result(result)
        for next_id in self.admission.finished(execution_id):
            self._start(next_id)

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
        return record.model_copy(
            update={"status": status, "error": error, "ended_at": now, "inputs": redacted_inputs}
        )

    async def wait(self, execution_id: str, timeout_s: float | None = None) -> ExecutionRecord:
        future = self.results.get(execution_id)
        if future is not None:
            return await asyncio.wait_for(asyncio.shield(future), timeout_s)
        record: ExecutionRecord = await self.recorder.get_execution.remote(execution_id)
        return record

    async def cancel(self, execution_id: str, reason: str = "cancelled by user") -> ExecutionRecord:
        if execution_id in self.pending and self.admission.withdraw(execution_id):
            pending = self.pending.pop(execution_id)
            result = await self._end(
                pending.record,
                pending.redacted_inputs,
                ExecutionStatus.CANCELLED,
                ErrorInfo(message=reason, category="cancelled"),
            )
            self.results.pop(execution_id).set_result(result)
            return result
        handle = self.running.get(execution_id)
        if handle is not None:
            await handle.cancel.remote(execution_id, reason)
            return await self.wait(execution_id)
        try:
            record: ExecutionRecord = await self.recorder.get_execution.remote(execution_id)
        except NotFound:
            raise
        if record.status.terminal:
            raise IllegalTransition(
                f"execution {record.id} is already {record.status.value}; only queued, running "
                "or paused executions can be cancelled"
            )
        raise IllegalTransition(f"execution {record.id} is not managed by this runtime")

    # --- node pools -------------------------------------------------------------------------

    async def node_pool(self, node_type: str) -> tuple[int, int, list[Any]]:
        """(max size, concurrency per actor, members) of a node type's pool, created lazily."""
        config = default_registry().get(node_type).pool
        members = self.pools.get(node_type)
        if members is None:
            members = self.pools[node_type] = [
                self._new_node_actor(node_type) for _ in range(max(1, config.min_size))
            ]
        return config.max_size, config.concurrency, list(members)

    async def grow_node_pool(self, node_type: str) -> list[Any]:
        max_size, _, members = await self.node_pool(node_type)
        if len(members) < max_size:
            self.pools[node_type].append(self._new_node_actor(node_type))
        return list(self.pools[node_type])

    async def replace_node_actor(self, node_type: str, handle: Any) -> list[Any]:
        members = self.pools.get(node_type, [])
        gone = _actor_id(handle)
        for i, member in enumerate(members):
            if _actor_id(member) == gone:
                ray.kill(member, no_restart=True)
                members[i] = self._new_node_actor(node_type)
        return list(members)

    def _new_node_actor(self, node_type: str) -> Any:
        n = self.pool_counter[node_type] = self.pool_counter.get(node_type, 0) + 1
        config = default_registry().get(node_type).pool
        return NodeActor.options(  # type: ignore[attr-defined]
            name=f"node-pool:{node_type}:{n}",
            namespace=self.namespace,
            max_concurrency=config.concurrency,
        ).remote(node_type)

    # --- desktop ----------------------------------------------------------------------------

    async def desktop(self) -> Any:
        """The DesktopActor, created on the node that advertises the ``desktop`` resource."""
        if self._desktop is None:
            if ray.cluster_resources().get("desktop", 0) < 1:  # type: ignore[no-untyped-call]
                raise HubError(
                    "no node of this runtime advertises the 'desktop' resource: start the "
                    "runtime on the machine with the display with `hub up --desktop` (or "
                    "`ray start ... --resources '{\"desktop\": 1}'` there)"
                )
            self._desktop = DesktopActor.options(  # type: ignore[attr-defined]
                name="desktop",
                namespace=self.namespace,
                resources={"desktop": 1},
                max_concurrency=100,
            ).remote(
                self.recorder,
                self.settings.enable_desktop,
                self.settings.desktop_dry_run,
                self.settings.desktop_max_clicks_per_s,
                self.settings.ocr_placement,
            )
        return self._desktop

    async def ocr_actor(self, backend: str, num_gpus: float) -> Any:
        """The OcrActor for a backend (one per backend and GPU share), created on first use."""
        key = (backend, num_gpus)
        if key not in self._ocr:
            self._ocr[key] = OcrActor.options(  # type: ignore[attr-defined]
                name=f"ocr:{len(self._ocr) + 1}",
                namespace=self.namespace,
                num_gpus=num_gpus,
                max_concurrency=8,
            ).remote(backend)
        return self._ocr[key]

    # --- introspection ----------------------------------------------------------------------

    async def status(self) -> dict[str, Any]:
        desktop = await self._desktop.where.remote() if self._desktop is not None else None
        nodes = [
            {
                "node_id": n["NodeID"],
                "alive": n["Alive"],
                "address": n["NodeManagerAddress"],
                "resources": n["Resources"],
            }
            for n in ray.nodes()  # type: ignore[no-untyped-call]
        ]
        return {
            "nodes": nodes,
            "desktop": desktop,
            "running": len(self.admission.running),
            "queued": len(self.admission.waiting),
            "max_concurrent_executions": self.admission.limit,
            "execution_actors": {"warm": len(self.warm.idle), "created": self.actor_count},
            "node_pools": {t: len(m) for t, m in self.pools.items()},
            "settings": self.settings.model_dump(),
        }

    async def shutdown(self) -> None:
        """Cancel what runs, wait for the records, flush the store."""
        for execution_id in list(self.running):
            handle = self.running.get(execution_id)
            if handle is not None:
                await handle.cancel.remote(execution_id, "runtime stopped")
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=10)
        if self._desktop is not None:
            await self._desktop.shutdown.remote()
        await self.recorder.flush.remote()

    async def ping(self) -> bool:
        return True
