"""The TriggerActor: fires schedules and startup triggers, runs the AMQP consumers, and answers
webhooks; everything it starts goes through the supervisor's one start path with an
idempotency key, so a fire repeated after a crash finds the execution it already made.

Detached and restartable (``max_restarts``). A schedule's cursor (the last slot accounted for)
is stored after each fire; an incarnation started by ``hub up`` applies each schedule's misfire
policy to the slots missed while the runtime was down, and one that Ray restarted after a crash
fires every slot since the cursor (up to ``misfire_cap``): those were missed by a crash, not by
an operator's stop. A slot fired just before a crash, before its cursor was stored, fires again
and finds its execution by its key.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import ray
from ray.exceptions import RayTaskError

from actors._trigger_metrics import TriggerMetrics
from actors.breakers import find_breakers
from hub.breakers import workflow_key
from hub.compiler import compile_workflow
from hub.errors import HubError, NotFound, RuntimeUnavailable
from hub.records import ExecutionRecord, WorkflowRecord
from hub.triggers import (
    DEFAULT_AMQP_URL,
    SIGNATURE_HEADER,
    AmqpTrigger,
    Fire,
    ScheduleTrigger,
    StartupTrigger,
    TriggerInputError,
    TriggerSpec,
    TriggerState,
    TriggerView,
    WebhookRejected,
    WebhookTrigger,
    catch_up,
    make_fire,
    next_slot,
    signature_valid,
    slot_id,
)
from hub.triggers._amqp import decode_body

logger = logging.getLogger(__name__)

Key = tuple[str, str]  # (workflow id, trigger id)
RETRY_S = 1.0  # a fire the runtime could not take (it is restarting) is tried again after this
STATE_SAVE_S = 1.0  # counts of webhook, AMQP and startup fires are saved this often at most


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Refused(HubError):
    """A fire the runtime refused for good (its inputs are invalid, its workflow is gone): the
    slot or message is consumed, with the reason kept as the trigger's ``last_error``."""

    code = "trigger_refused"  # not the generic code: a consumer tells it from a transient error

    def __init__(self, cause: HubError | str) -> None:
        cause = HubError(cause) if isinstance(cause, str) else cause
        super().__init__(cause.message)
        self.cause = cause  # the supervisor's error, with its own code

    def __reduce__(self) -> tuple[Any, ...]:  # travels through Ray to a consumer
        return (Refused, (self.cause,))


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)
class TriggerActor:
    def __init__(
        self,
        namespace: str,
        supervisor_name: str,
        recorder_name: str,
        start_id: str,
        sealing_key: str | None = None,
    ) -> None:
        self.namespace = namespace
        self.sealing_key = sealing_key  # opens webhook secrets and AMQP URLs from credentials
        self.start_id = start_id  # one per `hub up`: startup triggers fire once per start
        restarted = bool(ray.get_runtime_context().was_current_actor_reconstructed)
        self.after_crash = restarted
        self.supervisor = ray.get_actor(supervisor_name, namespace=namespace)
        self.recorder = ray.get_actor(recorder_name, namespace=namespace)
        self.metrics = TriggerMetrics()
        self.specs: dict[Key, TriggerSpec] = {}
        self.enabled: dict[Key, bool] = {}
        self.states: dict[Key, TriggerState] = {}
        self.tasks: dict[Key, asyncio.Task[Any]] = {}
        self.consumers: dict[Key, Any] = {}
        self.control: Any = None  # the AMQP control queue's consumer (settings amqp_control)
        self.lock = asyncio.Lock()
        self.dirty: set[Key] = set()  # triggers whose counts changed since they were saved
        self.saver: asyncio.Task[None] | None = None
        self.loaded = asyncio.get_running_loop().create_task(self._load(first=True))
        self.control_started = asyncio.get_running_loop().create_task(self._start_control())

    async def _ready(self) -> None:
        if self.loaded.done() and self.loaded.exception() is not None:
            failed = self.loaded.exception()
            self.loaded = asyncio.get_running_loop().create_task(self._load(first=True))
            raise HubError(f"the triggers could not be loaded: {failed}")
        await asyncio.shield(self.loaded)

    # --- loading ------------------------------------------------------------------------------

    async def _load(self, *, first: bool) -> None:
        async with self.lock:
            workflows: list[WorkflowRecord] = await self.recorder.list_workflows.remote()
            stored = {
                (row["workflow_id"], row["trigger_id"]): row
                for row in await self.recorder.trigger_states.remote()
            }
            wanted: dict[Key, TriggerSpec] = {}
            for workflow in workflows:
                for spec in _triggers_of(workflow):
                    wanted[(workflow.id, spec.id)] = spec
            for key in set(self.specs) - set(wanted):
                await self._stop(key)
                self.specs.pop(key, None)
                self.states.pop(key, None)
            for workflow_id in {w for w, t in stored if (w, t) not in wanted}:
                # A trigger no longer declared starts afresh if it comes back.
                keep = [t for w, t in wanted if w == workflow_id]
                await self.recorder.delete_trigger_states.remote(workflow_id, keep)
            for key, spec in wanted.items():
                row = stored.get(key)
                switch = row["enabled"] if row else None
                enabled = spec.enabled if switch is None else bool(switch)
                state = TriggerState.model_validate(row["state"]) if row else TriggerState()
                changed = self.specs.get(key) != spec or self.enabled.get(key) != enabled
                self.specs[key] = spec
                self.enabled[key] = enabled
                if key not in self.states or first:
                    self.states[key] = state
                task = self.tasks.get(key)
                alive = (task is not None and not task.done()) or key in self.consumers
                if not changed and alive:
                    continue
                await self._stop(key)
                if enabled:
                    await self._start(key, spec, first=first)
                elif self.states[key].cursor is not None:
                    self.states[key].cursor = None  # re-armed at "now" when enabled again
                    await self._save(key)

    async def _start(self, key: Key, spec: TriggerSpec, *, first: bool) -> None:
        if isinstance(spec, ScheduleTrigger):
            await self._arm(key, spec, first=first)
            self.tasks[key] = asyncio.get_running_loop().create_task(self._schedule(key, spec))
        elif isinstance(spec, StartupTrigger) and first:
            # Once per `hub up`: a restarted incarnation repeats the fire, which then finds the
            # execution the first one made.
            received = {"type": "startup", "id": spec.id, "fired_at": _iso(_now())}
            fire = make_fire(key[0], spec, "startup", received, key_part=self.start_id)
            self.tasks[key] = asyncio.get_running_loop().create_task(self._fire_until_taken(fire))
        elif isinstance(spec, AmqpTrigger):
            try:
                url = await self.amqp_url(spec.url_credential)
            except HubError as exc:
                self._failed(key, exc)
                return
            self.consumers[key] = self._consumer(key, spec, url)

    async def _stop(self, key: Key) -> None:
        task = self.tasks.pop(key, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        consumer = self.consumers.pop(key, None)
        if consumer is not None:
            with contextlib.suppress(Exception):
                await consumer.stop.remote()
            with contextlib.suppress(Exception):
                ray.kill(consumer, no_restart=True)

    def _consumer(self, key: Key, spec: AmqpTrigger, url: str) -> Any:
        """The trigger's consumer actor (owned by this one: it goes with it, and the next
        incarnation starts it again; unacked messages are redelivered to that one)."""
        from actors.amqp import AmqpConsumerActor

        return AmqpConsumerActor.options(  # type: ignore[attr-defined]
            name=f"amqp:{key[0]}:{key[1]}",
            namespace=self.namespace,
            get_if_exists=True,
        ).remote(key[0], spec.model_dump(mode="json"), url, self.namespace)

    async def _start_control(self) -> None:
        """The runtime-wide control queue (actors/amqp.py), when the settings enable it."""
        from actors.amqp import control_consumer

        try:
            settings = (await self.supervisor.get_settings.remote())["settings"]
            if not settings.get("amqp_control"):
                return
            url = await self.amqp_url(settings.get("amqp_control_url_credential"))
            self.control = control_consumer(self.namespace, settings["amqp_control_queue"], url)
        except Exception as exc:
            logger.warning("the AMQP control queue is not started: %s", exc)

    # --- schedules ----------------------------------------------------------------------------

    async def _arm(self, key: Key, spec: ScheduleTrigger, *, first: bool) -> None:
        """Set the cursor a schedule runs from: now for a new or re-enabled one; else the
        stored one, after applying the misfire policy (a crash: every missed slot) to what
        was missed since."""
        state = self.states[key]
        now = _now()
        if state.cursor is None or not first:
            state.cursor = now  # new, re-enabled or changed: it runs from now on
            await self._save(key)
            return
        policy = "all" if self.after_crash else spec.misfire
        plan = catch_up(spec, state.cursor, now, policy)
        for slot in plan.fire:
            await self._fire_slot(key, spec, slot, catch_up=policy)
        state.skipped += plan.skipped
        state.cursor = plan.cursor or state.cursor
        await self._save(key)

    async def _schedule(self, key: Key, spec: ScheduleTrigger) -> None:
        state = self.states[key]
        while True:
            assert state.cursor is not None
            slot = next_slot(spec, state.cursor)
            wait_s = (slot - _now()).total_seconds()
            if wait_s > 0:
                await asyncio.sleep(min(wait_s, 3600))
                continue  # woken early (a long wait is split): look again
            await self._fire_slot(key, spec, slot)
            state.cursor = slot
            await self._save_cursor(key)

    async def _save_cursor(self, key: Key) -> None:
        """Store a schedule's cursor, trying again while the store cannot take it (a Recorder
        restarting) rather than letting the schedule's task die; its next slots wait, and fire
        late, once it is stored. A crash before then only fires the slot again, which finds
        its execution by its key."""
        while True:
            try:
                await self._save(key)
                return
            except Exception as exc:
                logger.warning("trigger %s/%s: cursor not stored: %s; trying again", *key, exc)
                await asyncio.sleep(RETRY_S)

    async def _fire_slot(
        self, key: Key, spec: ScheduleTrigger, slot: datetime, *, catch_up: str | None = None
    ) -> None:
        """Fire one slot. ``catch_up`` names the misfire policy of a slot fired late, at a
        start (the execution's trigger_info says so)."""
        fired_at = _now()
        slot_text = slot_id(slot)
        info: dict[str, Any] = {"slot": slot_text}
        if catch_up is not None:
            info["catch_up"] = catch_up
        received = {
            "type": "schedule",
            "id": spec.id,
            "slot": slot_text,
            "fired_at": _iso(fired_at),
        }
        try:
            fire = make_fire(key[0], spec, "schedule", received, key_part=slot_text, info=info)
        except HubError as exc:
            self._failed(key, exc)
            return
        record = await self._fire_until_taken(fire)
        if record is not None:
            self.states[key].last_slot = slot_text
            self.metrics.schedule_lag((_now() - slot).total_seconds())

    # --- firing -------------------------------------------------------------------------------

    async def _fire_until_taken(self, fire: Fire) -> ExecutionRecord | None:
        """Submit a fire, trying again while the runtime cannot take it (a supervisor that is
        restarting or stopping); None if it was refused for good."""
        while True:
            try:
                return await self._submit(fire)
            except Refused:
                return None
            except Exception as exc:
                logger.warning("trigger %s/%s: %s; trying again", *self._key(fire), exc)
                await asyncio.sleep(RETRY_S)

    async def _submit(self, fire: Fire) -> ExecutionRecord:
        key = self._key(fire)
        try:
            record: ExecutionRecord = await self.supervisor.submit.remote(
                fire.workflow_id,
                fire.inputs,
                trigger=fire.kind,
                idempotency_key=fire.idempotency_key,
                trigger_info=fire.info,
            )
        except RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, HubError) and cause.code != "hub_error":
                self._failed(key, cause)
                raise Refused(cause) from None
            raise
        self._fired(fire, record)
        return record

    async def submit_many(self, fires: list[Fire]) -> list[ExecutionRecord | HubError]:
        """``submit`` for several fires in one call (an AMQP consumer's messages handled at
        once): each answer, in its fire's place, is its execution or the error that refused it,
        a Refused one for good, any other HubError for now (the fire is tried again)."""
        await self._ready()
        answers: list[ExecutionRecord | HubError] = await self.supervisor.submit_fires.remote(fires)
        result: list[ExecutionRecord | HubError] = []
        for fire, answer in zip(fires, answers, strict=True):
            if isinstance(answer, ExecutionRecord):
                self._fired(fire, answer)
                result.append(answer)
            elif answer.code != "hub_error":
                self._failed(self._key(fire), answer)
                result.append(Refused(answer))
            else:
                result.append(answer)
        return result

    def _fired(self, fire: Fire, record: ExecutionRecord) -> None:
        key = self._key(fire)
        state = self.states.setdefault(key, TriggerState())
        state.fires += 1
        state.last_fired_at = _now()
        state.last_execution_id = record.id
        state.last_error = state.last_error_at = None  # the trouble, if any, is over
        self.metrics.fired(fire.kind)
        if not isinstance(self.specs.get(key), ScheduleTrigger):  # a schedule saves its cursor
            self._save_soon(key)

    def _save_soon(self, key: Key) -> None:
        """Save a trigger's counts within STATE_SAVE_S: one write for a burst of webhook calls
        or messages, not one per fire (what makes each fire exactly-once is its key, not these
        counts; a crash loses at most that much of them)."""
        self.dirty.add(key)
        if self.saver is None or self.saver.done():
            self.saver = asyncio.get_running_loop().create_task(self._save_dirty(STATE_SAVE_S))

    async def _save_dirty(self, after_s: float = 0) -> None:
        await asyncio.sleep(after_s)
        keys, self.dirty = self.dirty, set()
        for key in keys:
            if key in self.states:
                await self._save(key)

    def _failed(self, key: Key, exc: HubError) -> None:
        state = self.states.setdefault(key, TriggerState())
        state.last_error = exc.message
        state.last_error_at = _now()
        self.metrics.refused(self.specs[key].type if key in self.specs else "unknown")

    @staticmethod
    def _key(fire: Fire) -> Key:
        return (fire.workflow_id, fire.trigger_id)

    async def _save(self, key: Key) -> None:
        state = self.states[key]
        await self.recorder.save_trigger_state.remote(key[0], key[1], state.model_dump(mode="json"))

    # --- the API ------------------------------------------------------------------------------

    async def reload(self) -> int:
        """Load the triggers again (a workflow was registered, deleted, or a trigger switched);
        the number of triggers known."""
        await self._ready()
        await self._load(first=False)
        return len(self.specs)

    async def set_enabled(self, workflow_id: str, trigger_id: str, enabled: bool) -> TriggerView:
        await self._ready()
        self._spec((workflow_id, trigger_id))
        await self.recorder.set_trigger_enabled.remote(workflow_id, trigger_id, enabled)
        await self._load(first=False)
        return await self.view(workflow_id, trigger_id)

    async def fire(self, workflow_id: str, trigger_id: str, body: Any = None) -> ExecutionRecord:
        """Fire now, whatever the trigger's type and switch (``hub triggers fire``): a test of
        its mapping. ``body`` plays what a webhook or a message would carry."""
        await self._ready()
        key = (workflow_id, trigger_id)
        spec = self._spec(key)
        now = _iso(_now())
        received: dict[str, Any] = {"type": spec.type, "id": spec.id, "fired_at": now}
        if isinstance(spec, ScheduleTrigger):
            received["slot"] = now
        if isinstance(spec, WebhookTrigger | AmqpTrigger):
            received.update(body=body, headers={}, query={}, routing_key=None)
        fire = make_fire(
            workflow_id, spec, spec.type, received, key_part=None, info={"manual": True}
        )
        try:
            return await self._submit(fire)
        except Refused as exc:
            raise exc.cause from None

    async def submit(self, fire: Fire) -> ExecutionRecord:
        """Start what a webhook call or a message fired (the API and the consumers call this:
        one place counts fires and keeps each trigger's last fire)."""
        await self._ready()
        try:
            return await self._submit(fire)
        except Refused as exc:
            raise Refused(exc.cause) from None

    async def webhook(
        self,
        workflow_id: str,
        trigger_id: str,
        body: bytes,
        headers: dict[str, str],
        query: dict[str, Any],
        *,
        token_ok: bool,
    ) -> tuple[ExecutionRecord, WebhookTrigger]:
        """A call to ``POST /api/v1/hooks/{workflow}/{trigger}``: checked (the API token, or an
        HMAC-SHA256 signature of the raw body with the trigger's secret), mapped, started.
        ``headers`` have lower-case names. Raises WebhookRejected (401), NotFound, or
        TriggerInputError (the body cannot become the workflow's inputs)."""
        await self._ready()
        key = (workflow_id, trigger_id)
        spec = self._spec(key)
        if not isinstance(spec, WebhookTrigger):
            raise NotFound(
                f"trigger {workflow_id}/{trigger_id} is a {spec.type} trigger, not a webhook"
            )
        if not self.enabled.get(key, False):
            raise NotFound(
                f"webhook {workflow_id}/{trigger_id} is disabled "
                f"(hub triggers enable {workflow_id} {trigger_id})"
            )
        if not token_ok:
            if spec.secret is None:
                raise WebhookRejected(
                    "this webhook takes the API token (Authorization: Bearer ...); it has no "
                    "'secret' to check a signature with"
                )
            secret = await self._webhook_secret(key, spec.secret)
            if not signature_valid(secret, body, headers.get(SIGNATURE_HEADER)):
                raise WebhookRejected(
                    f"the {SIGNATURE_HEADER} header is missing or does not sign the body "
                    "(sha256=<hex HMAC-SHA256 of the raw body with the webhook's secret>)"
                )
        received = {
            "type": "webhook",
            "id": spec.id,
            "body": decode_body(body, headers.get("content-type")),
            "headers": {k: v for k, v in headers.items() if k not in _PRIVATE_HEADERS},
            "query": query,
            "fired_at": _iso(_now()),
        }
        caller_key = headers.get("idempotency-key")
        info = {"idempotency_key": caller_key} if caller_key else {}
        fire = make_fire(workflow_id, spec, "webhook", received, key_part=caller_key, info=info)
        try:
            return await self._submit(fire), spec
        except Refused as exc:
            raise TriggerInputError(exc.message, details=exc.cause.details) from None

    async def _webhook_secret(self, key: Key, name: str) -> str:
        """The webhook's secret. One that is not stored (or not a string) is the operator's
        mistake, not the caller's: it becomes the trigger's last error (``hub triggers ls``),
        and the caller gets a 503 that does not name the credential."""
        try:
            secret = await self._credential(name)
            if not isinstance(secret, str):
                raise HubError(f"credential {name!r} must be a string (the webhook's secret)")
        except HubError as exc:
            self._failed(key, exc)
            raise RuntimeUnavailable(
                f"webhook {key[0]}/{key[1]} cannot check signatures now: its secret is not "
                "available (its operator sees why in `hub triggers ls`)"
            ) from None
        return secret

    async def amqp_url(self, credential: str | None) -> str:
        """The URL an AMQP consumer connects to: the credential's, or the local broker's."""
        if credential is None:
            return DEFAULT_AMQP_URL
        value = await self._credential(credential)
        if isinstance(value, dict):
            value = value.get("url")
        if not isinstance(value, str):
            raise HubError(f"credential {credential!r} must be an AMQP URL (or {{'url': ...}})")
        return value

    async def _credential(self, name: str) -> Any:
        from hub.credentials import open_all

        try:
            found = await self.recorder.credentials.remote([name])
        except Exception as exc:
            raise HubError(f"credential {name!r} could not be read: {exc}") from None
        if name not in found:
            raise HubError(f"credential {name!r} is not stored (hub credentials set {name} ...)")
        return open_all(found, self.sealing_key)[name]

    async def spec(self, workflow_id: str, trigger_id: str) -> dict[str, Any]:
        """A trigger's definition and whether it is enabled (the webhook route reads this)."""
        await self._ready()
        key = (workflow_id, trigger_id)
        spec = self._spec(key)
        return {"spec": spec.model_dump(mode="json"), "enabled": self.enabled.get(key, False)}

    async def views(self) -> list[TriggerView]:
        await self._ready()
        breakers = await self._workflow_breakers()
        views = [await self.view(*key) for key in sorted(self.specs)]
        for v in views:
            v.breaker = breakers.get(workflow_key(v.workflow_id))
        return views

    async def _workflow_breakers(self) -> dict[str, str]:
        """The state of each breaker there is (none while no workflow has used one)."""
        handle = find_breakers(self.namespace)
        if handle is None:
            return {}
        try:
            found = await asyncio.wait_for(handle.breakers.remote(), timeout=5)
        except Exception:
            return {}
        return {b.key: str(b.state) for b in found}

    async def view(self, workflow_id: str, trigger_id: str) -> TriggerView:
        key = (workflow_id, trigger_id)
        spec = self._spec(key)
        state = self.states.get(key, TriggerState())
        enabled = self.enabled.get(key, False)
        detail: dict[str, Any] = {}
        next_fire: datetime | None = None
        status = "running" if key in self.tasks or key in self.consumers else "idle"
        if isinstance(spec, ScheduleTrigger):
            detail = {
                "cron": spec.cron,
                "every_s": spec.every_s,
                "timezone": spec.timezone,
                "misfire": spec.misfire,
            }
            if enabled and state.cursor is not None:
                next_fire = next_slot(spec, state.cursor)
        elif isinstance(spec, WebhookTrigger):
            detail = {
                "path": f"/api/v1/hooks/{workflow_id}/{trigger_id}",
                "signed": spec.secret is not None,
                "respond": spec.respond,
            }
            status = "idle"
        elif isinstance(spec, AmqpTrigger):
            detail = {"queue": spec.queue, "dead_letter_queue": spec.dead_letter}
            consumer = self.consumers.get(key)
            if consumer is not None:
                try:
                    detail.update(await consumer.status.remote())
                except Exception as exc:
                    detail["consumer_error"] = str(exc)
                if detail.get("error"):
                    status = "error"
        else:
            status = "idle"
        return TriggerView(
            workflow_id=workflow_id,
            trigger_id=trigger_id,
            type=spec.type,
            enabled=enabled,
            state=status if enabled else "disabled",
            next_fire_at=next_fire,
            last_fired_at=state.last_fired_at,
            last_execution_id=state.last_execution_id,
            fires=state.fires,
            skipped=state.skipped,
            last_error=state.last_error or detail.get("error"),
            detail=detail,
        )

    async def summary(self) -> dict[str, Any]:
        """Counts for ``hub status`` and ``GET /api/v1/runtime``."""
        views = await self.views()
        by_state: dict[str, int] = {}
        for v in views:
            by_state[v.state] = by_state.get(v.state, 0) + 1
        upcoming = sorted(v.next_fire_at for v in views if v.next_fire_at is not None)
        return {
            "total": len(views),
            "by_state": by_state,
            "next_fire_at": upcoming[0] if upcoming else None,
            "errors": [
                f"{v.workflow_id}/{v.trigger_id}: {v.last_error}"
                for v in views
                if v.state == "error"
            ],
        }

    async def shutdown(self) -> None:
        """Stop firing (``hub down``): schedules stop, consumers close their channels."""
        await self._ready()
        for key in list(self.tasks | self.consumers):
            await self._stop(key)
        await self._save_dirty()
        if self.control is not None:
            with contextlib.suppress(Exception):
                await self.control.stop.remote()

    async def ping(self) -> bool:
        return True

    async def pid(self) -> int:
        return os.getpid()

    def _spec(self, key: Key) -> TriggerSpec:
        spec = self.specs.get(key)
        if spec is None:
            known = ", ".join(f"{w}/{t}" for w, t in sorted(self.specs)) or "none"
            raise NotFound(f"no trigger {key[1]!r} in workflow {key[0]!r} (triggers: {known})")
        return spec


# Never copied into $trigger.headers (nor so into a run's inputs or history).
_PRIVATE_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})


def _triggers_of(workflow: WorkflowRecord) -> Iterable[TriggerSpec]:
    if not workflow.definition.get("triggers"):
        return ()
    result = compile_workflow(workflow.definition)
    return result.plan.triggers if result.plan is not None else ()
