"""The DesktopActor: the one owner of a display's screen, mouse and keyboard.

Scheduled on the node that advertises the ``desktop`` resource (``hub up --desktop``). Blocking
work (mss captures, pynput input, OCR) runs in worker threads; decisions live in
``hub.desktop.clicker``.
"""

from __future__ import annotations

import asyncio
import functools
import os
import time
import uuid
from typing import Any, Literal

import ray

from actors import _reprs
from actors._journal import RecorderJournal
from actors._metrics import DesktopMetrics, NodeActorMetrics
from actors._process import tune_process
from hub.desktop.clicker import ClickerConfig, ClickerSession, Reading
from hub.desktop.devices import Devices, install
from hub.desktop.pointer import clicks_of
from hub.errors import Conflict, HubError, NotFound
from hub.nodes import NodeCall, NodeResult, default_registry, invoke_reporting
from hub.records import (
    AppendEvent,
    CreateExecution,
    ErrorInfo,
    Event,
    ExecutionRecord,
    ExecutionStatus,
    UpdateExecution,
    utcnow,
)

CLICKER_WORKFLOW = "clicker"
RESTARTED = "the desktop's process restarted after a crash or the loss of its node"


class SessionConflict(Conflict):
    code = "session_conflict"


@ray.remote(num_cpus=0)
class DesktopActor:
    def __init__(
        self,
        recorder: Any,
        enabled: bool,
        dry_run: bool,
        max_clicks_per_s: float,
        ocr_placement: str = "auto",
    ) -> None:
        tune_process()
        self.recorder = recorder
        self.metrics = DesktopMetrics()
        # Desktop nodes run here: this actor is the desktop "pool"'s one member.
        self.calls = NodeActorMetrics("desktop", "desktop")
        self.metrics_task = asyncio.get_running_loop().create_task(self.calls.keep_fresh())
        self.devices = _MeteredDevices(
            self.metrics,
            enabled=enabled,
            dry_run=dry_run,
            max_clicks_per_s=max_clicks_per_s,
            gpu=bool(ray.get_gpu_ids()),
            ocr_placement=ocr_placement,
            cluster_gpus=ClusterGpus(),
            remote_ocr=_remote_ocr,
        )
        install(self.devices)
        self.registry = default_registry()
        self.sessions: dict[str, dict[str, Any]] = {}
        self.tasks: dict[str, asyncio.Task[None]] = {}
        if ray.get_runtime_context().was_current_actor_reconstructed:
            # Back by itself after a crash or a lost node: nobody is watching this screen yet.
            # It acts on nothing until a person re-arms it, and the sessions it ran are over.
            self.devices.tripped_at_start = RESTARTED
            self.interrupted = asyncio.get_running_loop().create_task(self._end_sessions())

    async def _end_sessions(self) -> None:
        """Fail the clicker sessions that ran in this actor's previous process."""
        unfinished: list[ExecutionRecord] = await self.recorder.non_terminal_executions.remote()
        error = ErrorInfo(message=f"the clicker session ended: {RESTARTED}", category="interrupted")
        writes: list[Any] = []
        for record in unfinished:
            if record.workflow_id == CLICKER_WORKFLOW and record.id not in self.sessions:
                writes += [
                    UpdateExecution(
                        execution_id=record.id,
                        status=ExecutionStatus.FAILED,
                        ended_at=utcnow(),
                        error=error,
                    ),
                    AppendEvent(
                        event=Event(
                            execution_id=record.id,
                            type="execution_failed",
                            data={"status": "failed", "error": error.model_dump()},
                        )
                    ),
                ]
        if writes:
            await self.recorder.commit.remote(writes)

    async def run(self, call: NodeCall) -> NodeResult | ErrorInfo:
        """Run a desktop node (same contract as a node-pool actor)."""
        self.calls.call_started()
        try:
            result = await invoke_reporting(self.registry, call)
        finally:
            self.calls.call_ended()
        if (
            call.node_type == "desktop.click"
            and isinstance(result, NodeResult)
            and not result.error
        ):
            clicks, dry_run = clicks_of(result.output)
            self.metrics.clicked("node", dry_run=dry_run, clicks=clicks)
        return result

    def __repr__(self) -> str:
        """Its display, gates, clicker sessions and calls, for Ray's dashboard and logs."""
        devices = getattr(self, "devices", None)
        if devices is None:
            return "DesktopActor(starting)"
        return _reprs.desktop_actor(
            os.environ.get("DISPLAY"),
            enabled=devices.enabled,
            dry_run=devices.dry_run,
            sessions=sum(not task.done() for task in getattr(self, "tasks", {}).values()),
            inflight=self.calls.inflight,
        )

    async def where(self) -> dict[str, Any]:
        """Which Ray node this desktop lives on (for status and placement checks)."""
        return {
            "node_id": ray.get_runtime_context().get_node_id(),
            "display": os.environ.get("DISPLAY"),
            "repr": repr(self),
        }

    # --- clicker sessions --------------------------------------------------------------------

    async def start_session(self, config: ClickerConfig) -> ExecutionRecord:
        self.devices.check_enabled()
        running = [sid for sid, task in self.tasks.items() if not task.done()]
        if running:
            raise SessionConflict(
                f"clicker session {running[0]} already controls the mouse; stop it first "
                "(one controller at a time)"
            )
        self.devices.screen().check_region(_region(config))
        await asyncio.to_thread(self.devices.ocr, config.backend)  # load the model first
        record = ExecutionRecord(
            id=uuid.uuid4().hex,
            workflow_id=CLICKER_WORKFLOW,
            workflow_version="1",
            status=ExecutionStatus.RUNNING,
            trigger="clicker",
            inputs=config.model_dump(),
            started_at=utcnow(),
        )
        await self.recorder.commit.remote([CreateExecution(record=record)])
        session = ClickerSession(config, time.monotonic)
        self.sessions[record.id] = {"record": record, "session": session}
        self.tasks[record.id] = asyncio.get_running_loop().create_task(self._run(record, session))
        return record

    async def stop_session(
        self, session_id: str, reason: str = "stopped by user"
    ) -> dict[str, Any]:
        entry = self.sessions.get(session_id)
        if entry is None:
            raise NotFound(f"no clicker session {session_id} on this desktop")
        entry["session"].stop(reason)
        task = self.tasks.get(session_id)
        if task is not None:
            await asyncio.wait({task}, timeout=30)
        return self._describe(session_id)

    async def list_sessions(self) -> list[dict[str, Any]]:
        return [self._describe(sid) for sid in self.sessions]

    async def get_session(self, session_id: str) -> dict[str, Any]:
        if session_id not in self.sessions:
            raise NotFound(f"no clicker session {session_id} on this desktop")
        return self._describe(session_id)

    def _describe(self, session_id: str) -> dict[str, Any]:
        entry = self.sessions[session_id]
        task = self.tasks.get(session_id)
        session: ClickerSession = entry["session"]
        return {
            "id": session_id,
            "running": bool(task and not task.done()),
            "stop_reason": session.stop_requested or session.stop_reason(),
            "config": session.config.model_dump(),
            "metrics": session.metrics.summary(),
        }

    async def _run(self, record: ExecutionRecord, session: ClickerSession) -> None:
        from hub.desktop.pointer import KillSwitchTripped

        journal = RecorderJournal(self.recorder, 0.05)

        def emit(kind: str, **data: Any) -> None:
            journal.emit(AppendEvent(event=Event(execution_id=record.id, type=kind, data=data)))

        config = session.config
        emit("session_started", config=config.model_dump())
        screen, engine = self.devices.screen(), self.devices.ocr(config.backend)
        pointer = self.devices.pointer(config.dry_run)
        region = _region(config)
        status, error = ExecutionStatus.COMPLETED, None
        while (reason := session.stop_reason()) is None:
            started = time.monotonic()
            failed = False
            try:
                position = await asyncio.to_thread(pointer.position)
                if pointer.killed or session.in_corner(position, screen.size, 5):
                    raise KillSwitchTripped("kill switch: the pointer is in a screen corner")
                frame = await asyncio.to_thread(screen.capture, region)
                changed = session.needs_ocr(frame.digest)
                emit("screen_captured", digest=frame.digest, changed=changed)
                if changed:
                    result = await asyncio.to_thread(
                        functools.partial(engine.read, frame.pixels, single_line=config.single_line)
                    )
                    items = [item.model_dump() for item in result.items]
                    session.read(frame.digest, Reading(result.text, items), result.elapsed_ms)
                    emit(
                        "ocr_completed",
                        text=result.text,
                        ms=round(result.elapsed_ms, 2),
                        backend=result.backend,
                    )
                assert session.last_reading is not None
                decision = session.decide(session.last_reading)
                if decision.click and decision.point is not None:
                    emit("number_detected", numbers=decision.numbers, reason=decision.reason)
                    x, y = decision.point
                    action = await asyncio.to_thread(pointer.click, x, y, button=config.button)
                    session.clicked()
                    self.metrics.clicked("clicker", dry_run=bool(action.dry_run))
                    emit("click_executed", x=x, y=y, dry_run=bool(action.dry_run))
            except KillSwitchTripped as exc:
                session.stop("kill switch")
                status = ExecutionStatus.CANCELLED
                error = ErrorInfo(message=str(exc), category="cancelled")
                emit("error_occurred", message=str(exc), fatal=True)
                failed = True
            except HubError as exc:
                emit("error_occurred", message=str(exc), fatal=False)
                failed = True
            elapsed = time.monotonic() - started
            session.cycle_done(elapsed * 1000, error=failed)
            self.metrics.cycle_done(elapsed, dry_run=bool(pointer.dry_run), error=failed)
            if session.stop_reason() is None:
                await asyncio.sleep(session.next_delay_s(elapsed))
        metrics = session.metrics.summary()
        emit("session_stopped", reason=reason, metrics=metrics)
        journal.emit(
            UpdateExecution(
                execution_id=record.id,
                status=status,
                ended_at=utcnow(),
                error=error,
                outputs={"metrics": metrics, "reason": reason},
            )
        )
        await journal.flush()

    async def reset_kill_switch(self) -> bool:
        """Re-arm the desktop after its kill switch tripped (it stays tripped until then)."""
        pointer = self.devices.pointer()
        was = bool(pointer.killed)
        pointer.reset_kill_switch()
        return was

    async def shutdown(self) -> None:
        for session_id in list(self.sessions):
            await self.stop_session(session_id, "runtime stopped")

    async def ping(self) -> bool:
        return True

    async def set_gates(self, enabled: bool, dry_run: bool) -> None:
        """The runtime's desktop gates as they are now (hub.gates): steps and sessions started
        from now on obey them; a running session keeps its pointer until stopped."""
        self.devices.enabled = enabled
        self.devices.dry_run = dry_run


class _MeteredDevices(Devices):
    """The desktop's devices, whose OCR engines report each read's latency."""

    def __init__(self, metrics: DesktopMetrics, **options: Any) -> None:
        super().__init__(**options)
        self.metrics = metrics
        self.metered: dict[int, _MeteredOcr] = {}

    def ocr(self, name: str = "auto", placement: str | None = None) -> Any:
        engine = super().ocr(name, placement)
        metered = self.metered.get(id(engine))  # engines are kept for good: ids stay theirs
        if metered is None:
            where: Literal["local", "pool"] = "pool" if isinstance(engine, _RemoteOcr) else "local"
            metered = self.metered[id(engine)] = _MeteredOcr(engine, where, self.metrics)
        return metered


class _MeteredOcr:
    """An OCR engine (local, or an OcrActor behind _RemoteOcr) that times each read."""

    def __init__(self, engine: Any, where: Literal["local", "pool"], metrics: DesktopMetrics):
        self.engine = engine
        self.name = str(engine.name)
        self.where: Literal["local", "pool"] = where
        self.metrics = metrics

    def read(self, pixels: Any, **options: Any) -> Any:
        started = time.perf_counter()
        result = self.engine.read(pixels, **options)
        self.metrics.ocr_read(self.name, self.where, time.perf_counter() - started)
        return result

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.engine, attribute)


class _RemoteOcr:
    """An OcrActor behind the backend interface (``read`` blocks: callers use a thread)."""

    def __init__(self, handle: Any, name: str) -> None:
        self.handle = handle
        self.name = name

    def read(self, pixels: Any, *, allowlist: str | None = None, single_line: bool = False) -> Any:
        return ray.get(
            self.handle.read.remote(pixels, allowlist=allowlist, single_line=single_line)
        )


class ClusterGpus:
    """How many GPUs the cluster has, asked of Ray at most every ``every_s``: OCR moves to GPU
    nodes that join after the DesktopActor started (an autoscaler's), without a GCS call per
    read."""

    def __init__(self, every_s: float = 30.0) -> None:
        self.every_s = every_s
        self.value = 0.0
        self.asked_at: float | None = None

    def __call__(self) -> float:
        now = time.monotonic()
        if self.asked_at is None or now - self.asked_at >= self.every_s:
            resources = ray.cluster_resources()  # type: ignore[no-untyped-call]
            self.value, self.asked_at = float(resources.get("GPU", 0)), now
        return self.value


def _remote_ocr(backend: str, num_gpus: float) -> Any:
    supervisor = ray.get_actor("supervisor", namespace=ray.get_runtime_context().namespace)
    return _RemoteOcr(ray.get(supervisor.ocr_actor.remote(backend, num_gpus)), backend)


def _region(config: ClickerConfig) -> Any:
    from hub.desktop.screen import Region

    return Region.model_validate(config.region.model_dump())
