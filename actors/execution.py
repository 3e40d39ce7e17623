"""The ExecutionActor: runs one execution at a time, leased from the supervisor's warm pool, or
many at once as independent tasks in the ``shared`` isolation mode (docs/dsl.md, "Isolation
modes")."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import ray
from ray.exceptions import RayActorError, RayTaskError

from actors import _reprs
from actors._children import SupervisorChildRuns
from actors._journal import RecorderJournal, StoreWrites, store_within_reach
from actors._metrics import StepMetrics
from actors._process import tune_process
from actors.breakers import RayBreakers
from hub.admission import LoadBalancer
from hub.compiler import compile_workflow
from hub.credentials import open_all
from hub.errors import CredentialMissing, ErrorCategory, HubError, NotRunningHere, StepFailed
from hub.expressions import compile_value
from hub.lifecycle import Action
from hub.nodes import NodeCall, NodeResult, step_timeout, unwrap
from hub.overrides import definition_digest
from hub.plan import ExecutionPlan, PlanNode
from hub.records import ExecutionRecord, ExecutionStatus, RunOrder, RunOutcome
from hub.restore import restore
from hub.run_breakers import RunBreakers
from hub.runner import ExecutionRunner

_log = logging.getLogger("runtime_hub.execution")


def actor_key(handle: Any) -> Any:
    """What tells pool members apart: the handle itself, since Ray's actor handles hash and
    compare by actor id (a pool hands out new handle objects for the same actors)."""
    return handle


# How many times a step's node process may die under it before the step fails.
NODE_PROCESS_LOSSES = 3


class ExecutionHost:
    """What runs executions: the body of an ExecutionActor, and, made in the supervisor's own
    process (``in_supervisor``), the host of the runs that need no process of their own
    (docs/dsl.md, "Isolation modes": ``auto``)."""

    def __init__(
        self,
        recorder: Any,
        supervisor_name: str,
        namespace: str,
        flush_ms: float,
        sealing_key: str | None = None,
        shared: bool = False,
        step_writes: str = "direct",
        in_supervisor: bool = False,
        open_store: Callable[[], Awaitable[Any]] | None = None,
    ) -> None:
        if not in_supervisor:
            tune_process()
        # Ray restarts this actor after its process dies and retries the runs that were in
        # flight; they then resume from the store. A shared actor may get several such calls,
        # in any order with new runs: each of its runs checks the store (see run). Runs in the
        # supervisor die with it, and its recovery resumes them (their orders say so).
        self.reconstructed = not in_supervisor and bool(
            ray.get_runtime_context().was_current_actor_reconstructed
        )
        self.shared = shared
        self.in_supervisor = in_supervisor
        self.recorder = recorder
        self.supervisor_name = supervisor_name
        self.namespace = namespace
        self.flush_s = flush_ms / 1000
        self.sealing_key = sealing_key  # opens credentials, here and nowhere outside the runtime
        self.plans: OrderedDict[tuple[str, str, str], ExecutionPlan] = OrderedDict()
        self.balancers: dict[str, LoadBalancer[Any]] = {}
        # The executions running here (one, unless shared) and their journals, by id.
        self.runners: dict[str, ExecutionRunner] = {}
        self.journals: dict[str, RecorderJournal] = {}
        self.metrics = StepMetrics()
        self.breaker_client = RayBreakers(namespace)  # the BreakerActor, found on first use
        self._supervisor: Any = None
        self._desktop: Any = None
        self._store_writes: StoreWrites | None = None
        self._store_writes_known = step_writes != "direct"  # "recorder": never straight
        self._store_writes_lock = asyncio.Lock()
        # How it opens the store: its own, unless the supervisor that carries it shares its own.
        self.open_store = open_store or (lambda: store_within_reach(self.recorder, _log))

    def __repr__(self) -> str:
        """What it runs, for Ray's dashboard and logs (actors/_reprs.py)."""
        runners = getattr(self, "runners", {})
        records = {i: r.record for i, r in runners.items()}
        return _reprs.execution_actor(records, shared=getattr(self, "shared", False))

    def supervisor(self) -> Any:
        if self._supervisor is None:
            self._supervisor = ray.get_actor(self.supervisor_name, namespace=self.namespace)
        return self._supervisor

    def plan(self, definition: dict[str, Any], digest: str | None = None) -> ExecutionPlan:
        # Settings overrides change a definition without changing its version: key on both.
        # The supervisor sends the definition's digest with it (worked out once per workflow
        # and settings, actors._settings); a recovered run's is worked out here.
        if digest is None:
            digest = definition_digest(definition)
        key = (str(definition["id"]), str(definition.get("version", "1")), digest)
        plan = self.plans.get(key)
        if plan is None:
            plan = compile_workflow(definition).raise_for_errors()
            self.plans[key] = plan
            if len(self.plans) > 256:
                self.plans.popitem(last=False)
        return plan

    async def run(self, order: RunOrder) -> RunOutcome:
        """Run an execution to its end; resume it from the store when ``order.resume`` says so,
        or when this actor was restarted (Ray retries the call that was running here).

        When this actor writes its runs' records itself (``store_writes``), the end is stored
        before the answer. Otherwise the run's last writes come back with the answer, not
        committed: the supervisor commits them (many runs' in one Recorder call) before it
        reports the end; until then the run is unfinished in the store, and a crash in between
        resumes it like any other."""
        if self.runners and not self.shared:
            raise RuntimeError("this ExecutionActor is already running an execution")
        if order.record.id in self.runners:
            raise RuntimeError(f"execution {order.record.id} is already running on this actor")
        reason = order.resume or ("actor_restart" if self.reconstructed else None)
        if not self.shared:
            self.reconstructed = False
        plan = self.plan(order.definition, order.definition_digest)
        record = order.record
        restored, paused = None, False
        # This call's lease: only its writes land from now on (hub.recording.RunnerLeases).
        # A resume claims the execution before reading it, which fences off a runner presumed
        # lost that still runs (say, on an actor whose supervisor died and Ray has yet to kill).
        lease = (record.id, _lease_token())
        if reason is not None:
            stored: ExecutionRecord = await self.recorder.claim_execution.remote(*lease)
            if stored.status.terminal:  # it ended; only the answer was lost
                return RunOutcome(record=stored)
            if order.resume is None and self.shared and not _started(stored):
                reason = None  # a new run on a restarted shared actor: nothing to resume
            elif _started(stored):
                bases = stored.settings.get("origin", {}).get("attempts_before", {})
                restored = restore(plan, stored.steps, retry_bases=bases)
                paused = stored.status == ExecutionStatus.PAUSED
                record = record.model_copy(update={"started_at": stored.started_at})
        # None unless the workflow has circuit breakers on: then no breaker call at all.
        breakers = RunBreakers.of(plan, self.breaker_client)
        admission = await breakers.admit(fresh=reason in (None, "retry")) if breakers else None
        direct = await self.store_writes()
        # A resumed run's events go on after the stored ones (fresh runs have none yet).
        last_seq = await direct.last_event_seq(record.id) if direct and reason else 0
        journal = self.journals[record.id] = RecorderJournal(
            self.recorder, self.flush_s, lease, direct=direct, last_seq=last_seq
        )
        runner = self.runners[record.id] = ExecutionRunner(
            plan,
            record,
            dispatch=breakers.guard(self.dispatch) if breakers else self.dispatch,
            journal=journal,
            enabled_families=frozenset(order.families),
            env=order.env,
            options=order.options,
            restored=restored,
            resume_reason=reason or "",
            start_paused=paused,
            commit_each_step=order.commit_each_step,
            overrides={
                n: compile_value(p, plan.nodes[n].node_type.deferred if n in plan.nodes else ())
                for n, p in order.overrides.items()
            },
            durable_end=False,
            on_step_end=self.metrics.step_ended,
            credentials=self.open_credentials,
            refused=admission.refusal if admission else None,
            park_delay_s=order.park_delay_s,
            children=SupervisorChildRuns(self.supervisor, record, journal),
            node_defaults=order.node_defaults,
        )
        try:
            ended = await runner.run()
        except BaseException:
            if breakers and admission:  # no outcome: a probe's slot is freed
                await breakers.ended(admission, None)
            with contextlib.suppress(Exception):  # what it wrote so far still lands
                await journal.flush()
            raise
        finally:  # recycled: nothing of this run stays behind
            self.runners.pop(record.id, None)
            self.journals.pop(record.id, None)
        if breakers and admission:  # parked: not an outcome yet (a probe's slot is freed)
            status = None if runner.parked else ended.status.value
            await breakers.ended(admission, status, ended.error)
        return RunOutcome(record=ended, writes=await journal.take(), parked=runner.parked)

    async def prepare(self) -> None:
        """Open what a first run needs before it comes: the store this actor writes its runs'
        records to (its driver's import and engine, ~0.3 s). The supervisor asks it of every
        actor it makes; a run that comes first finds it opening and waits for the same one."""
        try:
            await self.store_writes()
        except Exception:  # the run that comes next asks again and reports it
            _log.warning("could not open the store ahead of the first run", exc_info=True)

    async def store_writes(self) -> StoreWrites | None:
        """How this actor stores its runs' records itself (settings.step_writes "direct"),
        asked of the Recorder once: None when the store is out of its reach (a SQLite file on
        another machine, an in-memory database), and the records go through the Recorder."""
        if self._store_writes_known:
            return self._store_writes
        async with self._store_writes_lock:  # a shared actor's first runs: one store
            if not self._store_writes_known:
                store = await self.open_store()
                if store is not None:  # SQLite's short commits on the loop, but for a shared
                    # actor's runs: one waiting for the file's write lock would stall them all
                    sqlite = store.dialect == "sqlite"
                    self._store_writes = StoreWrites(
                        store, inline=sqlite and not self.shared, batches=sqlite
                    )
                self._store_writes_known = True
        return self._store_writes

    async def open_credentials(self, names: Sequence[str]) -> dict[str, Any]:
        """The stored credentials ``names``, opened (hub.credentials)."""
        found: dict[str, bytes] = await self.recorder.credentials.remote(list(names))
        missing = [n for n in names if n not in found]
        if missing:
            raise CredentialMissing(missing)
        return open_all(found, self.sealing_key)

    def current(self, execution_id: str) -> ExecutionRunner:
        runner = self.runners.get(execution_id)
        if runner is None:
            raise NotRunningHere(f"execution {execution_id} is not running on this actor")
        return runner

    async def cancel(self, execution_id: str, reason: str) -> bool:
        runner = self.runners.get(execution_id)
        if runner is None:
            return False
        runner.cancel(reason)
        return True

    async def control(self, execution_id: str, action: str, argument: Any = None) -> Any:
        """A lifecycle or debugging action on the running execution (hub.lifecycle.Action)."""
        runner = self.current(execution_id)
        match Action(action):
            case Action.PAUSE:
                runner.pause()
            case Action.RESUME | Action.STEP | Action.CONTINUE:
                runner.resume(Action(action))
            case Action.SET_BREAKPOINTS:
                runner.set_breakpoints(list(argument))
            case Action.EVALUATE:
                return runner.evaluate(str(argument))
            case Action.INSPECT:
                return runner.inspect()
            case _:
                raise HubError(f"unknown action {action!r}")
        return runner.inspect()

    async def suspend(self, execution_id: str | None = None) -> int:
        """The runtime stops: start nothing more in ``execution_id`` (default: every execution
        here), make the records durable, leave it unfinished so it resumes at the next start.
        Answers how many were suspended."""
        runners = [
            r for i, r in list(self.runners.items()) if execution_id is None or i == execution_id
        ]
        await asyncio.gather(*(r.suspend() for r in runners))
        return len(runners)

    # --- node pools -------------------------------------------------------------------------

    async def balancer(self, node_type: str, refresh: bool = False) -> LoadBalancer[Any]:
        balancer = self.balancers.get(node_type)
        if balancer is None or refresh:
            size, concurrency, members = await self.supervisor().node_pool.remote(node_type)
            if balancer is None:
                balancer = self.balancers[node_type] = LoadBalancer(
                    concurrency, size, key=actor_key
                )
            balancer.set_members(members)
        return balancer

    async def dispatch(self, node: PlanNode, call: NodeCall, timeout_s: float | None) -> NodeResult:
        journal = self.journals.get(call.execution_id)
        if node.node_type.placement == "desktop":
            if journal is not None:  # what it depends on is durable before it acts
                await journal.settled()
            return await self.dispatch_desktop(call, timeout_s)
        # A node process that dies under a step is the infrastructure failing, not the step
        # (say, the supervisor that owns the pools died): the same attempt runs again on a
        # fresh process, as a step in flight at any crash does. A node that kills its own
        # process every time fails after a few tries.
        for _ in range(NODE_PROCESS_LOSSES):
            try:
                return await self.dispatch_pooled(node, call, timeout_s)
            except RayActorError:
                continue
        raise StepFailed(
            f"the {node.node_type.name} node process died during the step "
            f"{NODE_PROCESS_LOSSES} times",
            category=ErrorCategory.NODE_ERROR,
            retryable=True,
        )

    async def dispatch_pooled(
        self, node: PlanNode, call: NodeCall, timeout_s: float | None
    ) -> NodeResult:
        type_name = node.node_type.name
        balancer = await self.balancer(type_name)
        member = balancer.pick()
        if member is None and balancer.should_grow():
            balancer.set_members(await self.supervisor().grow_node_pool.remote(type_name))
            member = balancer.pick()
        if member is None:
            member = balancer.least_loaded()
        balancer.acquire(member)
        # The commit of the results this step depends on, if still in flight: an argument, so
        # Ray starts the call once it is done, and not at all if it failed.
        journal = self.journals.get(call.execution_id)
        barrier = journal.barrier if journal is not None else None
        # Named by the step and its execution: the dashboard's Tasks show what each node
        # actor runs for whom.
        method = member.run.options(name=_reprs.node_call_name(call))
        ref = method.remote(call) if barrier is None else method.remote(call, barrier)
        try:
            return await self.await_call(ref, timeout_s, lambda: self.stop_call(node, member, ref))
        except RayActorError:
            await self.replace(type_name, member)
            raise
        except RayTaskError:
            if barrier is not None and journal is not None:
                await journal.settled()  # raises Superseded, or the store's error
            raise
        finally:
            balancer.release(member)

    async def dispatch_desktop(self, call: NodeCall, timeout_s: float | None) -> NodeResult:
        """Desktop nodes go to the one DesktopActor, wherever the display is."""
        if self._desktop is None:
            self._desktop = await self.supervisor().desktop.remote()
        ref = self._desktop.run.options(name=_reprs.node_call_name(call)).remote(call)

        async def abandon() -> None:
            ray.cancel(ref)

        return await self.await_call(ref, timeout_s, abandon)

    @staticmethod
    async def await_call(
        ref: Any, timeout_s: float | None, abandon: Callable[[], Awaitable[None]]
    ) -> NodeResult:
        """Wait for a node call; on a timeout or a cancel, ``abandon`` stops it where it runs."""
        try:
            async with asyncio.timeout(timeout_s):
                result = await ref
        except TimeoutError:
            await abandon()
            raise step_timeout(timeout_s) from None
        except asyncio.CancelledError:
            await asyncio.shield(abandon())
            raise
        return unwrap(result)

    async def stop_call(self, node: PlanNode, member: Any, ref: Any) -> None:
        """Stop an abandoned call: an isolated node's process is replaced (the only way to stop
        a running thread); other calls are cancelled in their actor."""
        if node.node_type.isolated:
            await self.replace(node.node_type.name, member)
        else:
            ray.cancel(ref)

    async def replace(self, node_type: str, member: Any) -> None:
        members = await self.supervisor().replace_node_actor.remote(node_type, member)
        self.balancers[node_type].set_members(members)

    async def ping(self) -> bool:
        return not self.runners

    async def where(self) -> dict[str, Any]:
        """This actor's process and the execution it runs (``hub status``, chaos tests)."""
        context = ray.get_runtime_context()
        return {
            "actor": context.get_actor_name(),
            "pid": os.getpid(),
            "node_id": context.get_node_id(),
            "execution_id": next(iter(self.runners), None),
            "execution_ids": sorted(self.runners),
            "shared": self.shared,
            "in_supervisor": self.in_supervisor,
            # Where its step rows go (settings.step_writes), once ``prepare`` or a run asked.
            "step_writes": "direct" if self._store_writes is not None else "recorder",
            "repr": repr(self),
        }


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)
class ExecutionActor(ExecutionHost):
    """An ExecutionHost in a process of its own: Ray restarts it after the process dies and
    retries the run calls that were in flight (its name is what the dashboard lists)."""


# Lease tokens tell one runner of an execution from another: unique, not secret, so they come
# from a generator seeded once per process (a uuid4 reads the OS's entropy on every run's path).
_TOKENS = random.Random()
os.register_at_fork(after_in_child=_TOKENS.seed)  # a forked process draws its own


def _lease_token() -> str:
    return f"{_TOKENS.getrandbits(128):032x}"


def _started(stored: ExecutionRecord) -> bool:
    """Whether a stored execution has begun (a resume restores it) or is still as queued."""
    return stored.status != ExecutionStatus.QUEUED or bool(stored.steps)
